"""`/rest/v1/:table` in PostgREST syntax, as the caller's role, under RLS.

The table is looked up by Postgres on every request, never from a cache, so a table
created a moment ago is served at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from . import postgrest
from .context import api_caller, sandbox_of
from .db import as_role
from .errors import ApiError
from .idempotency import with_idempotency
from .keys import Principal
from .projects import Project, role_for
from .routing import Router

router = Router()

_NOT_FOUND = {"42P01", "3F000"}
_BAD_REQUEST_CLASSES = ("22", "23", "42")


@router.get("/rest/v1/{table}")
async def select(request: Request, table: str) -> Response:
    """Read rows: select=, filters, order=, limit, offset; Content-Range."""
    caller = await _Caller.of(request, write=False)
    query = _parse(lambda: postgrest.parse_read(_params(request)))
    exact = _prefer(request).count == "exact"
    sql, args = _parse(lambda: postgrest.build_select(caller.schema, table, query, exact_count=exact))
    body, total, returned = await caller.run(table, sql, args)
    headers = {"Content-Range": postgrest.content_range(query.offset, returned, total)}
    return Response(body, media_type="application/json", headers=headers)


@router.post("/rest/v1/{table}")
async def insert(request: Request, table: str) -> Response:
    """Insert one object or an array of objects."""
    caller = await _Caller.of(request, write=True)
    rows = await _rows_body(request)
    prefer = _prefer(request)
    returning = prefer.return_ == "representation"
    params = _params(request)
    sql, args = _parse(lambda: postgrest.build_insert(
        caller.schema, table, rows, returning=returning, columns=postgrest.parse_columns(params),
        resolution=prefer.resolution, on_conflict=postgrest.parse_on_conflict(params),
    ))
    return await caller.write(request, table, sql, args, returning=returning, status=201)


@router.patch("/rest/v1/{table}")
async def update(request: Request, table: str) -> Response:
    """Update the rows the filters select."""
    caller = await _Caller.of(request, write=True)
    values = await _object_body(request)
    filters = _parse(lambda: postgrest.parse_filters(_params(request)))
    returning = _prefer(request).return_ == "representation"
    sql, args = _parse(lambda: postgrest.build_update(
        caller.schema, table, values, filters, returning=returning))
    return await caller.write(request, table, sql, args, returning=returning, status=200)


@router.delete("/rest/v1/{table}")
async def delete(request: Request, table: str) -> Response:
    """Delete the rows the filters select."""
    caller = await _Caller.of(request, write=True)
    filters = _parse(lambda: postgrest.parse_filters(_params(request)))
    returning = _prefer(request).return_ == "representation"
    sql, args = _parse(lambda: postgrest.build_delete(caller.schema, table, filters, returning=returning))
    return await caller.write(request, table, sql, args, returning=returning, status=200)


@dataclass(frozen=True, kw_only=True)
class _Caller:
    """The key behind a REST request, and where its SQL runs."""

    principal: Principal
    project: Project
    pool: asyncpg.Pool
    read_pool: asyncpg.Pool

    @classmethod
    async def of(cls, request: Request, *, write: bool) -> _Caller:
        principal, project = await api_caller(request, write=write)
        sandbox = sandbox_of(request)
        return cls(principal=principal, project=project, pool=sandbox.pool, read_pool=sandbox.read_pool)

    @property
    def schema(self) -> str:
        return self.project.slot

    async def run(self, table: str, sql: str, args: list[object]) -> asyncpg.Record:
        """A read in one round trip (see `sandbox.rest_read`); reads take no arguments."""
        role = role_for(self.project, self.principal.role)
        claims = json.dumps(self.principal.claims())
        async with self.read_pool.acquire() as conn:
            try:
                return await conn.fetchrow(_READ, role, self.schema, claims, sql)
            except asyncpg.PostgresError as error:
                raise _rest_error(error, table, self.principal.role) from None

    async def write(
        self, request: Request, table: str, sql: str, args: list[object], *, returning: bool, status: int,
    ) -> Response:
        async def work(conn: asyncpg.Connection) -> Response:
            return _written(await self._fetch(conn, table, sql, args), returning, status=status)

        return await with_idempotency(request, self.pool, work)

    async def _fetch(self, conn: asyncpg.Connection, table: str, sql: str, args: list[object]) -> asyncpg.Record:
        role = role_for(self.project, self.principal.role)
        try:
            async with as_role(conn, role=role, schema=self.schema, claims=self.principal.claims()):
                return await conn.fetchrow(sql, *args)
        except asyncpg.PostgresError as error:
            raise _rest_error(error, table, self.principal.role) from None


_READ = "SELECT body, total, returned FROM sandbox.rest_read($1, $2, $3, $4)"


def _prefer(request: Request) -> postgrest.Prefer:
    return postgrest.parse_prefer(request.headers.get("prefer"))


def _rest_error(error: asyncpg.PostgresError, table: str, role: str) -> ApiError:
    state = error.sqlstate or ""
    if state in _NOT_FOUND:
        return ApiError(404, "table_not_found", f"no table {table!r} in this project",
                        hint="create it with POST /admin/v1/projects/:id/sql; names are case-sensitive")
    if state == "42501":
        return ApiError(403, "permission_denied", f"this key may not do that on {table!r}: {error}",
                        hint=_permission_hint(role))
    if state.startswith(_BAD_REQUEST_CLASSES):
        return ApiError(400, "bad_request", str(error), hint=getattr(error, "hint", None), sqlstate=state)
    return ApiError(500, "database_error", str(error), sqlstate=state)


def _permission_hint(role: str) -> str:
    if role == "anon":
        return "the anon key is read-only unless the table uses the public_read_write template; sign in and send the access token"
    return "row-level security refused it: check the table's RLS template"


def _written(row: asyncpg.Record, returning: bool, *, status: int) -> Response:
    if returning:
        return Response(row[0], status_code=status, media_type="application/json")
    return Response(status_code=201 if status == 201 else 204)


def _params(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def _parse(build: Any) -> Any:
    try:
        return build()
    except postgrest.QueryError as error:
        raise ApiError(400, "invalid_query", error.message, hint=error.hint) from None


async def _rows_body(request: Request) -> list[dict[str, Any]]:
    body = await _any_json(request)
    rows = body if isinstance(body, list) else [body]
    if not all(isinstance(r, dict) for r in rows):
        raise ApiError(400, "invalid_body", "insert a JSON object or an array of objects")
    return rows


async def _object_body(request: Request) -> dict[str, Any]:
    body = await _any_json(request)
    if not isinstance(body, dict) or not body:
        raise ApiError(400, "invalid_body", "PATCH needs a non-empty JSON object of column values")
    return body


async def _any_json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
