"""Functions: deploy, list and delete (service key), and call them at `/functions/v1/:name`.

A call names its project by its key, as every other data route does: `apikey` (anon
key, service key or a user's access token) or `Authorization: Bearer`. The request's
method, headers, query and body reach the function as a `Request`; its `Response`'s
status, headers and body come back as they are. A function that throws answers 500
`function_error`, one that outlives its timeout 504 `function_timeout`, one whose
process dies (e.g. out of heap) 502 `function_crashed`, each with its error text.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .bodies import read_body
from .context import admin_project, api_caller, json_body, sandbox_of
from .errors import ApiError
from .functions import check_functions, check_limit, function_url, parse_function, store_functions, FunctionSpec
from .functions_runtime import Invocation, run_function
from .project_secrets import secret_env
from .routing import Router
from .tiers import get_tier

router = Router()

MAX_REQUEST_BYTES = 6 * 1024 * 1024
"""A call's body, as Lambda allows (6 MB synchronous payloads); the seed's functions are Lambda."""
_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"})


@router.post("/admin/v1/projects/{project_id}/functions")
async def deploy(request: Request, project_id: str) -> JSONResponse:
    """Deploy (create or replace) one function."""
    project = await admin_project(request, project_id)
    spec = parse_function(await json_body(request))
    pool = sandbox_of(request).pool
    # Checked before any connection is taken: Node runs outside the transaction.
    await check_functions([spec], await secret_env(pool, project.id))
    async with pool.acquire() as conn, conn.transaction():
        # One deploy at a time per project, so that two new names cannot both pass the limit.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 403))", project.id)
        names = {r["name"] for r in await conn.fetch(
            "SELECT name FROM sandbox.functions WHERE project_id = $1", project.id)}
        check_limit(get_tier(project.tier), len(names | {spec.name}))
        await store_functions(conn, project.id, [spec])
        row = await conn.fetchrow(
            "SELECT created_at, updated_at FROM sandbox.functions WHERE project_id = $1 AND name = $2",
            project.id, spec.name,
        )
    body = _function_json(request, spec.name, spec.config, row)
    return JSONResponse(body, status_code=200 if spec.name in names else 201)


@router.get("/admin/v1/projects/{project_id}/functions")
async def list_functions(request: Request, project_id: str) -> JSONResponse:
    """The project's functions (names, URLs, config; not their code)."""
    project = await admin_project(request, project_id, write=False)
    rows = await sandbox_of(request).pool.fetch(
        "SELECT name, config, created_at, updated_at FROM sandbox.functions WHERE project_id = $1 ORDER BY name",
        project.id,
    )
    limit = get_tier(project.tier).functions
    return JSONResponse({"functions": [_function_json(request, r["name"], r["config"], r) for r in rows],
                         "limit": limit})


@router.delete("/admin/v1/projects/{project_id}/functions/{name}")
async def delete(request: Request, project_id: str, name: str) -> JSONResponse:
    """Delete one function."""
    project = await admin_project(request, project_id)
    deleted = await sandbox_of(request).pool.fetchval(
        "DELETE FROM sandbox.functions WHERE project_id = $1 AND name = $2 RETURNING name", project.id, name,
    )
    if deleted is None:
        raise _not_found(name)
    return JSONResponse({"status": "deleted", "name": name})


def _function_json(request: Request, name: str, config: dict[str, Any], row: Any) -> dict[str, Any]:
    return {
        "name": name, "url": function_url(request, name), "config": config,
        "created_at": row["created_at"].isoformat(), "updated_at": row["updated_at"].isoformat(),
    }


def _not_found(name: str) -> ApiError:
    return ApiError(404, "function_not_found", f"the project has no function {name!r}",
                    hint="deploy it: POST /admin/v1/projects/:id/functions or in POST /v1/deploy/:tier")


# --- calling --------------------------------------------------------------------------

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@router.api_route("/functions/v1/{name}", methods=_METHODS)
@router.api_route("/functions/v1/{name}/{rest:path}", methods=_METHODS)
async def invoke(request: Request, name: str, rest: str = "") -> Response:
    """Call a function of the caller's project with this request."""
    _, project = await api_caller(request, write=False)
    pool = sandbox_of(request).pool
    row = await pool.fetchrow(
        "SELECT code, config FROM sandbox.functions WHERE project_id = $1 AND name = $2", project.id, name,
    )
    if row is None:
        raise _not_found(name)
    spec = FunctionSpec(name=name, code=row["code"], config=row["config"])
    outcome = await run_function(Invocation(
        name=name, code=spec.code, env=await secret_env(pool, project.id), timeout_s=spec.timeout_s,
        memory_mb=spec.memory_mb, method=request.method, url=str(request.url),
        headers=tuple((k, v) for k, v in request.headers.items() if k not in _HOP_HEADERS),
        body=await _body(request),
    ))
    if not outcome.ok:
        raise ApiError(outcome.status, outcome.error or "function_error", outcome.message,
                       function=name, logs=outcome.logs or None)
    response = Response(outcome.body, status_code=outcome.status)
    for key, value in outcome.headers:
        if key.lower() not in _HOP_HEADERS:
            response.headers.append(key, value)
    return response


async def _body(request: Request) -> bytes:
    return await read_body(request, limit=MAX_REQUEST_BYTES, what="a function call's body",
                           hint="send a smaller payload: put large data in storage and pass its path")
