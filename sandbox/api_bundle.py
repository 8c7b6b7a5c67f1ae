"""Bundle deploy, `POST /v1/deploy/:tier` (x402, the tier's price, site fee included).

One call creates a project and installs a whole app in it: migrations, an RLS
template, secrets, functions, a site and a subdomain. It is atomic, and stricter
than the seed's "the project is archived": everything is checked first (SQL gate,
names, files, function limits, every function module loaded once by Node), then
all of it is done in the paid call's one transaction. If any part fails there,
the transaction rolls back: no project, schema, role, table, secret, function,
deployment or subdomain remains, and nothing is charged. The error names the part
(`part`: migrations, rls, subdomain...) that failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from . import x402
from .api_sites import SiteFile, _parse_files, deployment_body, site_url, subdomain_url
from .api_subdomains import validate_subdomain
from .context import sandbox_of
from .deploy_parts import (
    RlsRequest, apply_rls, claim_subdomain, forget_session, gate_sql, parse_rls, run_migrations, store_site,
)
from .errors import ApiError
from .functions import FunctionSpec, check_functions, check_limit, function_url, parse_functions, store_functions
from .paid import Charge, PaidResult, run_paid
from .project_secrets import SecretValue, parse_secrets, store_secrets
from .projects import create_project
from .routing import Router
from .tiers import Tier, get_tier

router = Router()


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """A checked bundle manifest."""

    name: str
    statements: list[Any]
    rls: RlsRequest | None
    secrets: list[SecretValue]
    functions: list[FunctionSpec]
    site: list[SiteFile] | None
    subdomain: str | None


@router.post("/v1/deploy/{tier}")
async def deploy_bundle(request: Request, tier: str) -> Response:
    """Create a project and deploy a whole app into it, atomically (x402)."""
    sandbox = sandbox_of(request)
    the_tier = get_tier(tier)
    manifest = await _manifest(await deployment_body(request), the_tier)

    async def work(conn: asyncpg.Connection, payment: x402.VerifiedPayment) -> PaidResult:
        project = await create_project(conn, name=manifest.name, tier=the_tier, wallet=payment.payer.lower())
        body = await _install(request, conn, project, manifest)
        body.update({
            "project_id": project.id, "name": project.name, "tier": the_tier.name,
            "anon_key": sandbox.keys.project_key(project.id, "anon"),
            "service_key": sandbox.keys.project_key(project.id, "service_role"),
            "schema_slot": project.slot, "lease_expires_at": project.lease_expires_at.isoformat(),
        })
        return PaidResult(body=body, status=201, project_id=project.id)

    charge = Charge(amount_micros=the_tier.price_micros, description=f"bundle deploy {the_tier.name} {manifest.name}")
    return await run_paid(request, sandbox.pool, charge, work, network=sandbox.network)


async def _manifest(body: dict[str, Any], tier: Tier) -> Manifest:
    """Every check that needs no project, before anything is paid or written."""
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ApiError(400, "invalid_name", "name is required: a string of at most 200 characters",
                       hint='{"name": "my-app", "migrations": "...", "site": [...]}')
    migrations = body.get("migrations")
    if migrations is not None and not isinstance(migrations, str):
        raise ApiError(400, "invalid_migrations", "migrations must be one SQL string", part="migrations")
    site = _parse_files(body["site"]) if body.get("site") is not None else None
    subdomain = validate_subdomain(body["subdomain"]) if body.get("subdomain") is not None else None
    if subdomain and site is None:
        raise ApiError(400, "subdomain_needs_site", "a subdomain points at the site: send site as well",
                       part="subdomain")
    secrets = parse_secrets(body.get("secrets"))
    functions = parse_functions(body.get("functions"))
    check_limit(tier, len(functions))
    manifest = Manifest(
        name=name.strip(), statements=await gate_sql(migrations) if migrations and migrations.strip() else [],
        rls=parse_rls(body.get("rls")), secrets=secrets, functions=functions, site=site, subdomain=subdomain,
    )
    await check_functions(functions, {s.key: s.value for s in secrets})
    return manifest


async def _install(request: Request, conn: asyncpg.Connection, project: Any, manifest: Manifest) -> dict[str, Any]:
    """Every part, in order, in the caller's transaction; the answer's part fields."""
    if manifest.statements:
        await run_migrations(conn, project, manifest.statements)
        await forget_session(conn)
    if manifest.rls is not None:
        await apply_rls(conn, project, manifest.rls)
    await store_secrets(conn, project.id, manifest.secrets)
    await store_functions(conn, project.id, manifest.functions)
    answer: dict[str, Any] = {
        "functions": [{"name": f.name, "url": function_url(request, f.name)} for f in manifest.functions],
        "secrets": [s.key for s in manifest.secrets],
        "site_url": None, "deployment_id": None, "subdomain_url": None,
    }
    if manifest.site is not None:
        deployment_id = await store_site(conn, project.id, manifest.name, manifest.site)
        answer.update(deployment_id=deployment_id, site_url=site_url(request, deployment_id))
    if manifest.subdomain is not None:
        await claim_subdomain(conn, manifest.subdomain, answer["deployment_id"], project.id)
        answer["subdomain_url"] = subdomain_url(request, manifest.subdomain)
    return answer
