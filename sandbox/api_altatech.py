"""The AltaTech database API, served beside Run402's so that an AltaTech build runs offline.

Routes (Bearer API key; answers `{code, message, data}`; errors `{code, message}`):

* `POST /v1/database/create-table` — a table from JSON field declarations;
* `POST /v1/database/import/records` — up to 1,000 records, stored asynchronously: the
  answer is the task ids, polled with `GET /v1/database/query/import-results?ids=…`;
* `POST /v1/database/records/page` — a page of 1–100 records, with filter or keyword;
* `POST /v2/database/update/record` (up to 100) and `POST /v2/database/delete/record`
  (up to 1,000).

The hosted service issues API keys on a web page; the sandbox's stand-in is
`POST /sandbox/altatech/projects` `{name, plan?, rpm?}` → `{project_id, api_key, …}`,
free and answered once per Idempotency-Key. It is a separate AltaTech project, not a
Run402 project: AltaTech has no x402 payments, tiers or leases, and a Run402 service key
must never double as a credential of another API. create-table and import/records honour
Idempotency-Key too, so a resent call neither creates a table twice nor imports twice.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from appwright.platforms.altatech_rules import (
    MAX_DELETE, MAX_IMPORT, MAX_PAGE_SIZE, MAX_UPDATE, RuleBroken, check_create_table,
)

from . import altatech_imports, altatech_records
from .altatech_store import (
    DEFAULT_RPM, AltaError, authenticate, create_project, create_table, find_table, ok, state_of,
)
from .bodies import MIB, read_body
from .context import sandbox_of
from .errors import ApiError
from .idempotency import with_idempotency
from .routing import Router

__all__ = ["router"]

router = Router()
_log: Final = logging.getLogger("appwright.sandbox.altatech")
Handler = Callable[[Request], Awaitable[Response]]

MAX_BODY_BYTES: Final = 16 * MIB
"""An AltaTech request's body. The seed sets no byte limit; the largest call is an import
of 1,000 records, and 16 MiB gives each 16 KiB, far beyond the short fields of the
tables the steps declare, while one worker never holds more than that."""


def _envelope(handler: Handler) -> Handler:
    """AltaTech's error answers: `AltaError` as itself, anything unforeseen as 50000."""

    @functools.wraps(handler)
    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except AltaError as error:
            return error.response()
        except Exception as error:  # AltaTech's own code for what the server did not foresee
            _log.exception("%s %s failed", request.method, request.url.path)
            return AltaError(50000, f"Internal system error ({type(error).__name__})").response()

    return answer


async def _body(request: Request) -> dict[str, Any]:
    try:
        raw = await read_body(request, limit=MAX_BODY_BYTES, what="an AltaTech request's body",
                              hint="send fewer records per call: split a large import over several calls")
    except ApiError as error:
        # AltaTech's shape ({code, message}); 40000 is its code for a request it refuses.
        raise AltaError(40000, f"Invalid parameters: {error.message}; {error.hint}", status=error.status) from None
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise AltaError(40000, "Invalid parameters: the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise AltaError(40000, "Invalid parameters: the body must be a JSON object")
    return body


def _items(body: dict[str, Any], name: str, most: int) -> list[Any]:
    items = body.get(name)
    if not isinstance(items, list) or not items:
        raise AltaError(40000, f"Invalid parameters: {name} must be a non-empty list")
    if len(items) > most:
        raise AltaError(40000, f"Invalid parameters: {len(items)} {name} given; at most {most} per call")
    return items


@router.post("/sandbox/altatech/projects")
@_envelope
async def new_project(request: Request) -> Response:
    """An AltaTech project and its API key (the sandbox's stand-in for the API key page)."""
    body = await _body(request)
    name, plan, rpm = body.get("name") or "project", body.get("plan", "pro"), body.get("rpm", DEFAULT_RPM)
    if not isinstance(name, str) or len(name) > 200:
        raise AltaError(40000, "Invalid parameters: name must be a string of at most 200 characters")
    if plan not in ("free", "pro"):
        raise AltaError(40000, "Invalid parameters: plan is free or pro")
    if not isinstance(rpm, int) or isinstance(rpm, bool) or rpm < 1:
        raise AltaError(40000, "Invalid parameters: rpm must be a positive integer")

    async def work(conn: asyncpg.Connection) -> Response:
        return ok(await create_project(conn, name=name, plan=plan, rpm=rpm), status=201)

    return await with_idempotency(request, sandbox_of(request).pool, work)


@router.post("/v1/database/create-table")
@_envelope
async def new_table(request: Request) -> Response:
    """A table, from its name, description and fields."""
    pool = sandbox_of(request).pool
    project = await authenticate(request, pool)
    body = await _body(request)
    try:
        check_create_table(body)
    except RuleBroken as broken:
        raise AltaError(broken.code, f"{_MEANING[broken.code]}: {broken.field}: {broken.message}") from None

    async def work(conn: asyncpg.Connection) -> Response:
        return ok(await create_table(conn, project, body))

    return await with_idempotency(request, pool, work)


@router.post("/v1/database/import/records")
@_envelope
async def import_records(request: Request) -> Response:
    """Queue records for import; the task ids."""
    pool = sandbox_of(request).pool
    project = await authenticate(request, pool)
    body = await _body(request)
    records = _items(body, "records", MAX_IMPORT)
    table = await find_table(pool, project, body.get("table_id"))

    async def work(conn: asyncpg.Connection) -> Response:
        return ok([await altatech_imports.queue(conn, project, table, records)])

    answer = await with_idempotency(request, pool, work)
    for task_id in json.loads(bytes(answer.body)).get("data") or []:  # after the commit, replayed or not
        altatech_imports.start(state_of(request), pool, project, task_id)
    return answer


@router.get("/v1/database/query/import-results")
@_envelope
async def import_results(request: Request) -> Response:
    """The state of import tasks."""
    pool = sandbox_of(request).pool
    project = await authenticate(request, pool)
    ids = request.query_params.getlist("ids")
    if not ids:
        raise AltaError(40000, "Invalid parameters: give the task ids as ids=…&ids=…")
    return ok(await altatech_imports.results(pool, state_of(request), project, ids))


@router.post("/v1/database/records/page")
@_envelope
async def records_page(request: Request) -> Response:
    """A page of a table's records."""
    pool = sandbox_of(request).pool
    project = await authenticate(request, pool)
    body = await _body(request)
    number, size = body.get("page"), body.get("page_size")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise AltaError(40000, "Invalid parameters: page is a whole number from 1")
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_PAGE_SIZE:
        raise AltaError(40000, f"Invalid parameters: page_size is a whole number from 1 to {MAX_PAGE_SIZE}")
    async with pool.acquire() as conn:
        table = await find_table(conn, project, body.get("table_id"))
        data = await altatech_records.page(conn, table, number=number, size=size,
                                           filter=body.get("filter"), keyword=body.get("keyword"))
    return ok(data)


@router.post("/v2/database/update/record")
@_envelope
async def update_records(request: Request) -> Response:
    """Update records by id or unique filter; optionally create the missing ones."""
    pool = sandbox_of(request).pool
    project = await authenticate(request, pool)
    body = await _body(request)
    entries = _items(body, "update_data", MAX_UPDATE)
    is_create = body.get("is_create", False)
    if not isinstance(is_create, bool):
        raise AltaError(40000, "Invalid parameters: is_create must be true or false")
    table = await find_table(pool, project, body.get("table_id"))

    async def work(conn: asyncpg.Connection) -> Response:
        return ok(await altatech_records.update(conn, table, entries, is_create=is_create))

    return await with_idempotency(request, pool, work)


@router.post("/v2/database/delete/record")
@_envelope
async def delete_records(request: Request) -> Response:
    """Delete records by id or unique filter."""
    pool = sandbox_of(request).pool
    project = await authenticate(request, pool)
    body = await _body(request)
    entries = _items(body, "delete_data", MAX_DELETE)
    table = await find_table(pool, project, body.get("table_id"))

    async def work(conn: asyncpg.Connection) -> Response:
        return ok(await altatech_records.delete(conn, table, entries))

    return await with_idempotency(request, pool, work)


_MEANING: Final = {40000: "Invalid parameters", 403100: "Invalid table name", 403103: "Invalid field name"}
