"""Projects: quote (free), create and renew (x402), delete (service key)."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import x402
from .context import admin_project, json_body, sandbox_of
from .errors import ApiError
from .paid import Charge, PaidResult, run_paid
from .projects import create_project, drop_project
from .routing import Router
from .tiers import TIERS, Tier, get_tier

router = Router()


@router.post("/v1/projects/quote")
async def quote() -> dict[str, Any]:
    """Prices and limits of every tier; free, no auth."""
    return {
        "tiers": {
            t.name: {
                "price": t.price_usd, "price_usd_micros": t.price_micros,
                "lease_days": t.lease.days, "storage_mb": t.storage_bytes // (1024 * 1024),
                "api_calls": t.api_calls, "functions": t.functions,
            }
            for t in TIERS.values()
        },
        "site_deployment_usd_micros": 50_000,
    }


@router.post("/v1/projects")
async def create_default(request: Request) -> Response:
    """Create a prototype project (x402)."""
    return await _create(request, get_tier("prototype"))


@router.post("/v1/projects/create/{tier}")
async def create_tier(request: Request, tier: str) -> Response:
    """Create a project of a given tier (x402)."""
    return await _create(request, get_tier(tier))


async def _create(request: Request, tier: Tier) -> Response:
    sandbox = sandbox_of(request)
    name = (await json_body(request)).get("name") or "project"
    if not isinstance(name, str) or len(name) > 200:
        raise ApiError(400, "invalid_name", "name must be a string of at most 200 characters")

    async def work(conn: asyncpg.Connection, payment: x402.VerifiedPayment) -> PaidResult:
        project = await create_project(conn, name=name, tier=tier, wallet=payment.payer.lower())
        body = {
            "project_id": project.id,
            "name": project.name,
            "tier": tier.name,
            "anon_key": sandbox.keys.project_key(project.id, "anon"),
            "service_key": sandbox.keys.project_key(project.id, "service_role"),
            "schema_slot": project.slot,
            "lease_expires_at": project.lease_expires_at.isoformat(),
        }
        return PaidResult(body=body, status=201, project_id=project.id)

    charge = Charge(amount_micros=tier.price_micros, description=f"create {tier.name} project")
    return await run_paid(request, sandbox.pool, charge, work, network=sandbox.network)


@router.post("/v1/projects/{project_id}/renew")
async def renew(request: Request, project_id: str) -> Response:
    """Extend a project's lease by its tier's lease (x402); restores an expired one."""
    sandbox = sandbox_of(request)
    project = await sandbox.project(project_id)
    if project.status == "deleted":
        raise ApiError(404, "project_not_found", f"project {project_id} has been deleted")
    tier = get_tier(project.tier)

    async def work(conn: asyncpg.Connection, payment: x402.VerifiedPayment) -> PaidResult:
        expires = await conn.fetchval(
            "UPDATE sandbox.projects SET lease_expires_at = greatest(lease_expires_at, now()) + $2::interval, "
            "api_calls = 0 WHERE id = $1 RETURNING lease_expires_at", project_id, tier.lease,
        )
        sandbox.projects.forget(project_id)
        sandbox.usage.forget(project_id)
        body = {"project_id": project_id, "tier": tier.name, "lease_expires_at": expires.isoformat()}
        return PaidResult(body=body, project_id=project_id)

    charge = Charge(amount_micros=tier.price_micros, description=f"renew {tier.name} project")
    answer = await run_paid(request, sandbox.pool, charge, work, network=sandbox.network)
    # Again after the commit: a read between the first forget and the commit cached the old lease.
    sandbox.projects.forget(project_id)
    return answer


@router.delete("/v1/projects/{project_id}")
async def delete(request: Request, project_id: str) -> JSONResponse:
    """Delete a project: its schema, roles, users, subdomains (service key)."""
    sandbox = sandbox_of(request)
    project = await admin_project(request, project_id, write=False)
    async with sandbox.pool.acquire() as conn, conn.transaction():
        await drop_project(conn, project)
    sandbox.projects.forget(project_id)
    return JSONResponse({"status": "deleted", "project_id": project_id})
