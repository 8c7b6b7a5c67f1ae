"""Secrets routes (service key): set, list names (never values), delete.

`POST /admin/v1/projects/:id/secrets` takes `{key, value}` or `{secrets: [{key, value}, ...]}`.
The listing also says whether a forked project still lacks secrets its template
requires (`readiness`: `ready` or `configuration_required`, with `missing`).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .context import admin_project, json_body, sandbox_of
from .errors import ApiError
from .project_secrets import check_key, parse_secret, parse_secrets, store_secrets
from .routing import Router
from .versions import readiness

router = Router()


@router.post("/admin/v1/projects/{project_id}/secrets")
async def set_secrets(request: Request, project_id: str) -> JSONResponse:
    """Set one secret, or several at once."""
    project = await admin_project(request, project_id)
    body = await json_body(request)
    values = parse_secrets(body["secrets"]) if "secrets" in body else [parse_secret(body)]
    if not values:
        raise ApiError(400, "invalid_secrets", "secrets is empty", hint='send {"key": "API_KEY", "value": "..."}')
    async with sandbox_of(request).pool.acquire() as conn, conn.transaction():
        await store_secrets(conn, project.id, values)
    return JSONResponse({"status": "ok", "keys": [v.key for v in values]})


@router.get("/admin/v1/projects/{project_id}/secrets")
async def list_secrets(request: Request, project_id: str) -> JSONResponse:
    """The names of the project's secrets, with when they were set; never a value."""
    project = await admin_project(request, project_id, write=False)
    pool = sandbox_of(request).pool
    rows = await pool.fetch(
        "SELECT key, created_at, updated_at FROM sandbox.secrets WHERE project_id = $1 ORDER BY key", project.id,
    )
    state, missing = await readiness(pool, project.id)
    return JSONResponse({
        "secrets": [_secret_json(row) for row in rows], "readiness": state, "missing": missing,
    })


@router.delete("/admin/v1/projects/{project_id}/secrets/{key}")
async def delete_secret(request: Request, project_id: str, key: str) -> JSONResponse:
    """Delete one secret."""
    project = await admin_project(request, project_id)
    check_key(key)
    deleted = await sandbox_of(request).pool.fetchval(
        "DELETE FROM sandbox.secrets WHERE project_id = $1 AND key = $2 RETURNING key", project.id, key,
    )
    if deleted is None:
        raise ApiError(404, "secret_not_found", f"the project has no secret {key}",
                       hint="list them: GET /admin/v1/projects/:id/secrets")
    return JSONResponse({"status": "deleted", "key": key})


def _secret_json(row: Any) -> dict[str, Any]:
    return {"key": row["key"], "created_at": row["created_at"].isoformat(),
            "updated_at": row["updated_at"].isoformat()}
