"""Publish and fork: share a project as a template; fork it into an independent project.

* `POST /admin/v1/projects/:id/publish` (service key): snapshot the project as a new
  version (see `versions`): `{visibility: public|private, fork_allowed, description,
  required_secrets: [{key, description}]}`.
* `GET /v1/apps/:version_id` (free): inspect a version. A private one only with its
  project's service key as Bearer.
* `GET /admin/v1/projects/:id/versions` (service key): the project's versions, newest first.
* `POST /v1/fork/:tier` (x402, the tier's project price): `{version_id, name, subdomain?,
  secrets?}` makes a new project with the version's schema, functions and site, in
  one transaction. Its `readiness` is `ready`, or `configuration_required` with the
  secrets (`missing`) it must still be given (POST /admin/v1/projects/:id/secrets).
"""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import x402
from .api_sites import site_url, subdomain_url
from .api_subdomains import validate_subdomain
from .context import admin_project, bearer, json_body, sandbox_of
from .deploy_parts import claim_subdomain, forget_session
from .errors import ApiError
from .functions import FunctionSpec, check_limit, function_url, store_functions
from .paid import Charge, PaidResult, run_paid
from .project_secrets import check_key, parse_secrets, store_secrets
from .projects import create_project
from .routing import Router
from .tiers import get_tier
from .versions import dump_schema, readiness, replay_schema

router = Router()

_SUMMARY = ("id, project_id, name, description, visibility, fork_allowed, tables, functions, secret_names, "
            "required_secrets, created_at, (SELECT count(*) FROM sandbox.app_version_files f "
            "WHERE f.version_id = v.id) AS site_files")


@router.post("/admin/v1/projects/{project_id}/publish")
async def publish(request: Request, project_id: str) -> JSONResponse:
    """Snapshot the project as a new published version."""
    project = await admin_project(request, project_id, write=False)
    options = _publish_options(await json_body(request))
    sandbox = sandbox_of(request)
    if not sandbox.dsn:
        raise ApiError(501, "publish_unavailable", "this sandbox was started without a database DSN")
    schema_sql = await dump_schema(sandbox.dsn, project.slot)
    version_id = "ver_" + secrets.token_hex(8)
    async with sandbox.pool.acquire() as conn, conn.transaction():
        await conn.execute(_SNAPSHOT, version_id, project.id, project.name, options["description"],
                           options["visibility"], options["fork_allowed"], project.slot, schema_sql,
                           options["required_secrets"])
        await conn.execute(_SNAPSHOT_FILES, version_id, project.id)
        row = await conn.fetchrow(f"SELECT {_SUMMARY} FROM sandbox.app_versions v WHERE id = $1", version_id)
    return JSONResponse(_version_json(request, row), status_code=201)


_SNAPSHOT = """
INSERT INTO sandbox.app_versions (id, project_id, name, description, visibility, fork_allowed, schema_slot,
                                  schema_sql, tables, functions, secret_names, required_secrets)
SELECT $1, $2, $3, $4, $5, $6, $7::text, $8,
       (SELECT coalesce(jsonb_agg(c.relname ORDER BY c.relname), '[]') FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $7::text::name AND c.relkind IN ('r', 'p')),
       (SELECT coalesce(jsonb_agg(jsonb_build_object('name', name, 'code', code, 'config', config) ORDER BY name),
               '[]') FROM sandbox.functions WHERE project_id = $2),
       (SELECT coalesce(jsonb_agg(key ORDER BY key), '[]') FROM sandbox.secrets WHERE project_id = $2),
       $9
"""

# The files of the project's latest deployment, copied: the version outlives a redeploy.
_SNAPSHOT_FILES = """
INSERT INTO sandbox.app_version_files (version_id, path, content, content_type)
SELECT $1, f.path, f.content, f.content_type FROM sandbox.deployment_files f
 WHERE f.deployment_id = (SELECT id FROM sandbox.deployments WHERE project_id = $2
                           ORDER BY created_at DESC, id DESC LIMIT 1)
"""


def _publish_options(body: dict[str, Any]) -> dict[str, Any]:
    visibility = body.get("visibility", "public")
    if visibility not in ("public", "private"):
        raise ApiError(400, "invalid_visibility", f"visibility {visibility!r} is not public or private")
    fork_allowed = body.get("fork_allowed", True)
    description = body.get("description", "")
    if not isinstance(fork_allowed, bool):
        raise ApiError(400, "invalid_fork_allowed", "fork_allowed must be true or false")
    if not isinstance(description, str) or len(description) > 2000:
        raise ApiError(400, "invalid_description", "description must be a string of at most 2000 characters")
    required = body.get("required_secrets") or []
    if not isinstance(required, list) or not all(isinstance(r, dict) for r in required):
        raise ApiError(400, "invalid_required_secrets", "required_secrets must be a list of {key, description}")
    entries = [{"key": check_key(r.get("key")), "description": str(r.get("description") or "")} for r in required]
    return {"visibility": visibility, "fork_allowed": fork_allowed, "description": description,
            "required_secrets": entries}


@router.get("/v1/apps/{version_id}")
async def inspect(request: Request, version_id: str) -> JSONResponse:
    """A version: what it holds and what a fork of it needs (free)."""
    row = await _visible_version(request, version_id)
    body = _version_json(request, row)
    body["schema_sql"] = row["schema_sql"]
    body["site"] = [dict(r) for r in await sandbox_of(request).pool.fetch(
        "SELECT path, length(content) AS bytes FROM sandbox.app_version_files WHERE version_id = $1 ORDER BY path",
        version_id,
    )]
    return JSONResponse(body)


@router.get("/admin/v1/projects/{project_id}/versions")
async def list_versions(request: Request, project_id: str) -> JSONResponse:
    """The project's published versions, newest first."""
    project = await admin_project(request, project_id, write=False)
    rows = await sandbox_of(request).pool.fetch(
        f"SELECT {_SUMMARY} FROM sandbox.app_versions v WHERE project_id = $1 ORDER BY created_at DESC, id",
        project.id,
    )
    return JSONResponse({"versions": [_version_json(request, row) for row in rows]})


async def _visible_version(request: Request, version_id: str) -> asyncpg.Record:
    sandbox = sandbox_of(request)
    row = await sandbox.pool.fetchrow(f"SELECT {_SUMMARY}, schema_sql, schema_slot FROM sandbox.app_versions v "
                                      "WHERE id = $1", version_id)
    if row is None:
        raise ApiError(404, "version_not_found", f"no published version {version_id!r}",
                       hint="publish one: POST /admin/v1/projects/:id/publish")
    if row["visibility"] == "private":
        token = bearer(request)
        principal = sandbox.keys.resolve(token) if token else None
        if principal is None or principal.role != "service_role" or principal.project_id != row["project_id"]:
            raise ApiError(404, "version_not_found", f"no published version {version_id!r}",
                           hint="a private version is visible only with its project's service key")
    return row


def _version_json(request: Request, row: asyncpg.Record) -> dict[str, Any]:
    return {
        "version_id": row["id"], "project_id": row["project_id"], "name": row["name"],
        "description": row["description"], "visibility": row["visibility"], "fork_allowed": row["fork_allowed"],
        "tables": row["tables"], "functions": [{"name": f["name"], "config": f["config"]} for f in row["functions"]],
        "secret_names": row["secret_names"], "required_secrets": row["required_secrets"],
        "site_files": row["site_files"], "created_at": row["created_at"].isoformat(),
        "url": f"{request.url.scheme}://{request.url.netloc}/v1/apps/{row['id']}",
    }


# --- fork -----------------------------------------------------------------------------


@router.post("/v1/fork/{tier}")
async def fork(request: Request, tier: str) -> Response:
    """A new, independent project from a published version (x402, the tier's price)."""
    sandbox = sandbox_of(request)
    the_tier = get_tier(tier)
    body = await json_body(request)
    version_id, name = body.get("version_id"), body.get("name")
    if not isinstance(version_id, str) or not version_id:
        raise ApiError(400, "missing_version_id", "version_id is required", hint='{"version_id": "ver_...", "name": "my-copy"}')
    version = await _visible_version(request, version_id)
    if not version["fork_allowed"]:
        raise ApiError(403, "fork_not_allowed", f"version {version_id} may not be forked")
    name = name if isinstance(name, str) and name.strip() else version["name"]
    subdomain = validate_subdomain(body["subdomain"]) if body.get("subdomain") is not None else None
    if subdomain and not version["site_files"]:
        raise ApiError(400, "subdomain_needs_site", "this version has no site for a subdomain to point at")
    given = parse_secrets(body.get("secrets"))
    functions = [FunctionSpec(name=f["name"], code=f["code"], config=f["config"]) for f in version["functions"]]
    check_limit(the_tier, len(functions))

    async def work(conn: asyncpg.Connection, payment: x402.VerifiedPayment) -> PaidResult:
        project = await create_project(conn, name=name[:200], tier=the_tier, wallet=payment.payer.lower())
        await replay_schema(conn, project, version["schema_sql"], version["schema_slot"])
        await forget_session(conn)
        await store_functions(conn, project.id, functions)
        await store_secrets(conn, project.id, given)
        await conn.execute("INSERT INTO sandbox.forks (project_id, version_id) VALUES ($1, $2)", project.id, version_id)
        answer = await _fork_site(request, conn, project.id, name, version_id, subdomain)
        state, missing = await readiness(conn, project.id)
        answer.update({
            "project_id": project.id, "name": project.name, "tier": the_tier.name, "version_id": version_id,
            "anon_key": sandbox.keys.project_key(project.id, "anon"),
            "service_key": sandbox.keys.project_key(project.id, "service_role"),
            "schema_slot": project.slot, "lease_expires_at": project.lease_expires_at.isoformat(),
            "functions": [{"name": f.name, "url": function_url(request, f.name)} for f in functions],
            "readiness": state, "missing_secrets": missing, "required_secrets": version["required_secrets"],
        })
        return PaidResult(body=answer, status=201, project_id=project.id)

    charge = Charge(amount_micros=the_tier.price_micros, description=f"fork {version_id} as {the_tier.name} project")
    return await run_paid(request, sandbox.pool, charge, work, network=sandbox.network)


async def _fork_site(
    request: Request, conn: asyncpg.Connection, project_id: str, name: str, version_id: str, subdomain: str | None,
) -> dict[str, Any]:
    answer: dict[str, Any] = {"site_url": None, "deployment_id": None, "subdomain_url": None}
    if not await conn.fetchval("SELECT count(*) FROM sandbox.app_version_files WHERE version_id = $1", version_id):
        return answer
    deployment_id = "dpl_" + secrets.token_hex(8)
    await conn.execute("INSERT INTO sandbox.deployments (id, project_id, name) VALUES ($1, $2, $3)",
                       deployment_id, project_id, name[:200])
    await conn.execute(
        "INSERT INTO sandbox.deployment_files (deployment_id, path, content, content_type) "
        "SELECT $1, path, content, content_type FROM sandbox.app_version_files WHERE version_id = $2",
        deployment_id, version_id,
    )
    answer.update(deployment_id=deployment_id, site_url=site_url(request, deployment_id))
    if subdomain:
        await claim_subdomain(conn, subdomain, deployment_id, project_id)
        answer["subdomain_url"] = subdomain_url(request, subdomain)
    return answer
