"""`/rest/v1/:table` in PostgREST syntax, as the caller's role, under RLS.

The table is looked up by Postgres on every request, never from a cache, so a table
created a moment ago is served at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from . import postgrest, rest_read
from .context import api_caller, bearer, json_value, sandbox_of
from .db import as_role
from .errors import ApiError
from .idempotency import with_idempotency
from .keys import Principal
from .projects import Project, role_for
from .rest_errors import rest_error
from .routing import Router

router = Router()

@router.get("/rest/v1/{table}")
async def select(request: Request, table: str) -> Response:
    """Read rows: select=, filters, order=, limit, offset; Content-Range."""
    answer = await rest_read.read(
        sandbox_of(request), table=table, query_string=request.scope["query_string"],
        token=bearer(request), apikey=request.headers.get("apikey"), prefer=request.headers.get("prefer"),
    )
    return Response(answer.body, media_type="application/json", headers={"Content-Range": answer.content_range})


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

    @classmethod
    async def of(cls, request: Request, *, write: bool) -> _Caller:
        principal, project = await api_caller(request, write=write)
        return cls(principal=principal, project=project, pool=sandbox_of(request).pool)

    @property
    def schema(self) -> str:
        return self.project.slot

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
            raise rest_error(error, table, self.principal.role) from None


def _prefer(request: Request) -> postgrest.Prefer:
    return postgrest.parse_prefer(request.headers.get("prefer"))


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
    return await json_value(request, what="a REST body", hint="insert or update fewer rows per request")
