"""`GET /admin/v1/projects/:id/usage` (service key): a project's use against its tier.

What `run402 projects usage` shows: API calls and storage against the tier's limits,
and where the project is in its lifecycle (active → read-only for 7 days after its
lease ends → archived; renewing restores it). It answers in every state but deleted,
so that an agent can see why its writes are refused and what renewing would restore.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from .context import bearer, sandbox_of
from .db import own_sql_only
from .errors import ApiError
from .routing import Router
from .storage import storage_used
from .tiers import GRACE, get_tier

__all__ = ["router"]

router = Router()


@router.get("/admin/v1/projects/{project_id}/usage")
async def usage(request: Request, project_id: str) -> JSONResponse:
    """API calls and storage used against the tier's limits, and the lifecycle state."""
    sandbox = sandbox_of(request)
    token = bearer(request)
    if token is None:
        raise ApiError(401, "missing_service_key", "usage needs the project's service key",
                       hint="send it as Authorization: Bearer <service_key>")
    principal = sandbox.keys.resolve(token)
    if principal.role != "service_role" or principal.project_id != project_id:
        raise ApiError(403, "service_key_required", "usage needs this project's service key",
                       hint="send Authorization: Bearer <service_key>")
    project = await sandbox.project(project_id)
    if project.state() == "deleted":
        raise ApiError(404, "project_not_found", f"project {project_id} has been deleted")
    tier = get_tier(project.tier)
    with own_sql_only():
        stored = await storage_used(sandbox.pool, project_id)
    return JSONResponse({
        "project_id": project.id, "name": project.name, "tier": tier.name, "state": project.state(),
        "lease_expires_at": project.lease_expires_at.isoformat(),
        "archived_at": (project.lease_expires_at + GRACE).isoformat(),
        "api_calls": sandbox.usage.used(project), "api_calls_limit": tier.api_calls,
        "storage_bytes": stored, "storage_limit_bytes": tier.storage_bytes,
        "functions_limit": tier.functions,
    })
