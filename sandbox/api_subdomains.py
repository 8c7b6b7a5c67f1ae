"""Custom subdomains: `<name>.localhost` serves the deployment a project points it at.

Claiming is an idempotent upsert with the project's service key (Authorization:
Bearer, not apikey): the same call every deploy re-points the name. A name belongs to
the project that claimed it first until that project releases it; another project's
claim is a 409. Lookup is free and needs no key.
"""

from __future__ import annotations

import re
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse

from .api_sites import RESERVED_SUBDOMAINS, site_url, subdomain_url
from .context import bearer, json_body, sandbox_of
from .errors import ApiError
from .projects import Project
from .routing import Router

__all__ = ["router", "validate_subdomain"]

router = Router()

_ALLOWED = re.compile(r"^[a-z0-9-]+$")
_COLUMNS = "name, deployment_id, project_id, created_at, updated_at"


# --- routes ---------------------------------------------------------------------------


@router.post("/v1/subdomains")
async def claim(request: Request) -> JSONResponse:
    """Point a subdomain at one of the project's deployments (idempotent upsert)."""
    project = await _service_project(request, write=True)
    body = await json_body(request)
    name = validate_subdomain(body.get("name"))
    deployment_id = body.get("deployment_id")
    if not isinstance(deployment_id, str) or not deployment_id:
        raise ApiError(400, "missing_deployment_id", "deployment_id is required",
                       hint='send {"name": "my-app", "deployment_id": "dpl_..."}')
    async with sandbox_of(request).pool.acquire() as conn:
        await _check_deployment(conn, deployment_id, project)
        row = await _upsert(conn, name, deployment_id, project)
    status = 201 if row["created"] else 200
    return JSONResponse(_subdomain_json(request, row), status_code=status)


@router.get("/v1/subdomains")
async def list_subdomains(request: Request) -> JSONResponse:
    """The subdomains of the service key's project."""
    project = await _service_project(request, write=False)
    rows = await sandbox_of(request).pool.fetch(
        f"SELECT {_COLUMNS} FROM sandbox.subdomains WHERE project_id = $1 ORDER BY name", project.id,
    )
    return JSONResponse({"subdomains": [_subdomain_json(request, row) for row in rows]})


@router.get("/v1/subdomains/{name}")
async def lookup(request: Request, name: str) -> JSONResponse:
    """Where a subdomain points; free, no key."""
    row = await sandbox_of(request).pool.fetchrow(
        f"SELECT {_COLUMNS} FROM sandbox.subdomains WHERE name = $1", name,
    )
    if row is None:
        raise ApiError(404, "subdomain_not_found", f"subdomain {name!r} is not claimed",
                       hint="claim it: POST /v1/subdomains with the service key")
    return JSONResponse(_subdomain_json(request, row))


@router.delete("/v1/subdomains/{name}")
async def release(request: Request, name: str) -> JSONResponse:
    """Release one of the project's subdomains."""
    project = await _service_project(request, write=True)
    async with sandbox_of(request).pool.acquire() as conn:
        deleted = await conn.fetchval(
            "DELETE FROM sandbox.subdomains WHERE name = $1 AND project_id = $2 RETURNING name",
            name, project.id,
        )
        if deleted is None:
            await _explain_missing(conn, name)
    return JSONResponse({"status": "deleted", "name": name})


# --- rules ----------------------------------------------------------------------------


def validate_subdomain(value: Any) -> str:
    """The name if it follows the naming rules, else a 400 saying which rule it breaks."""
    if not isinstance(value, str) or not value:
        raise _bad_name("required", "name is required", "send a name such as my-app")
    if not 3 <= len(value) <= 63:
        raise _bad_name("length", f"{value!r} has {len(value)} characters; a subdomain has 3 to 63")
    if not _ALLOWED.match(value):
        what = "uppercase letters" if value.lower() != value else "characters other than a-z, 0-9 and -"
        raise _bad_name("characters", f"{value!r} contains {what}; use lowercase letters, digits and hyphens",
                        f"try {_suggest(value)!r}")
    if value[0] == "-" or value[-1] == "-":
        raise _bad_name("edges", f"{value!r} must start and end with a letter or digit")
    if "--" in value:
        raise _bad_name("double_hyphen", f"{value!r} contains '--', which is not allowed")
    if value in RESERVED_SUBDOMAINS:
        raise _bad_name("reserved", f"{value!r} is reserved",
                        f"reserved names: {', '.join(sorted(RESERVED_SUBDOMAINS))}; pick another")
    return value


def _bad_name(rule: str, message: str, hint: str | None = None) -> ApiError:
    return ApiError(
        400, "invalid_subdomain", message, rule=rule,
        hint=hint or "3-63 lowercase letters, digits and hyphens; start and end with a letter or digit; no '--'",
    )


def _suggest(value: str) -> str:
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]+", "-", value.lower())).strip("-")
    return cleaned or "my-app"


# --- helpers --------------------------------------------------------------------------


async def _service_project(request: Request, *, write: bool) -> Project:
    sandbox = sandbox_of(request)
    token = bearer(request)
    if token is None:
        sent_apikey = "apikey" in request.headers
        raise ApiError(
            401, "missing_service_key",
            "subdomain changes need the service key in Authorization"
            + (" (the apikey header is not used here)" if sent_apikey else ""),
            hint="send Authorization: Bearer <service_key>",
        )
    principal = sandbox.keys.resolve(token)
    if principal.role != "service_role":
        raise ApiError(403, "service_key_required",
                       "subdomains are managed with the service key, not an anon key or user token",
                       hint="send Authorization: Bearer <service_key>")
    project = await sandbox.project(principal.project_id)
    project.check_access(write=write)
    return project


async def _check_deployment(conn: asyncpg.Connection, deployment_id: str, project: Project) -> None:
    owner = await conn.fetchval("SELECT project_id FROM sandbox.deployments WHERE id = $1", deployment_id)
    if owner is None:
        raise ApiError(404, "deployment_not_found", f"no deployment {deployment_id!r} on this server",
                       hint="deploy first with POST /v1/deployments and use its deployment_id")
    if owner != project.id:
        raise ApiError(403, "deployment_not_in_project",
                       f"deployment {deployment_id} belongs to another project",
                       hint="point a subdomain only at a deployment of the service key's project")


async def _upsert(conn: asyncpg.Connection, name: str, deployment_id: str, project: Project) -> asyncpg.Record:
    row = await conn.fetchrow(
        "INSERT INTO sandbox.subdomains (name, deployment_id, project_id) VALUES ($1, $2, $3) "
        "ON CONFLICT (name) DO UPDATE SET deployment_id = excluded.deployment_id, updated_at = now() "
        "WHERE sandbox.subdomains.project_id = excluded.project_id "
        f"RETURNING {_COLUMNS}, (xmax = 0) AS created",
        name, deployment_id, project.id,
    )
    if row is None:
        raise ApiError(409, "subdomain_taken", f"subdomain {name!r} is already claimed by another project",
                       hint="choose another name")
    return row


async def _explain_missing(conn: asyncpg.Connection, name: str) -> None:
    if await conn.fetchval("SELECT 1 FROM sandbox.subdomains WHERE name = $1", name):
        raise ApiError(403, "not_your_subdomain", f"subdomain {name!r} belongs to another project",
                       hint="a project can release only the subdomains it claimed")
    raise ApiError(404, "subdomain_not_found", f"subdomain {name!r} is not claimed")


def _subdomain_json(request: Request, row: asyncpg.Record) -> dict[str, Any]:
    return {
        "name": row["name"],
        "deployment_id": row["deployment_id"],
        "project_id": row["project_id"],
        "url": subdomain_url(request, row["name"]),
        "deployment_url": site_url(request, row["deployment_id"]),
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }
