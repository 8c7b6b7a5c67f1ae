"""Connections and the one way the sandbox runs SQL on a project's behalf.

Every request that touches a project's data runs in a transaction on a superuser
connection that first drops to the project's own role (`SET LOCAL ROLE`), pins the
search path to the project's schema and sets `request.jwt.claims`, so RLS policies
and `auth.uid()` see who is asking. The role reverts when the transaction ends.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

import asyncpg

# One quoting of names and literals for all the sandbox's SQL.
from .postgrest import quote_ident, quote_literal

__all__ = ["as_role", "own_sql_only", "reset_session", "quote_ident", "quote_literal", "to_json", "jsonable"]

_OWN_SQL_ONLY: ContextVar[bool] = ContextVar("appwright_own_sql_only", default=False)


@contextmanager
def own_sql_only() -> Iterator[None]:
    """Connections released in this block ran only the sandbox's own statements.

    Those leave no session state (every SET is LOCAL, every advisory lock
    transaction-scoped), so `reset_session` skips its round trip for them. Never
    around anything that runs a project's SQL.
    """
    token = _OWN_SQL_ONLY.set(True)
    try:
        yield
    finally:
        _OWN_SQL_ONLY.reset(token)


async def reset_session(conn: asyncpg.Connection) -> None:
    """The main pool's reset on release: asyncpg's reset query, unless `own_sql_only`.

    asyncpg has already rolled back any open transaction before calling this.
    """
    if _OWN_SQL_ONLY.get():
        return
    query = conn.get_reset_query()
    if query:
        await conn.execute(query)


@asynccontextmanager
async def as_role(
    conn: asyncpg.Connection, *, role: str, schema: str, claims: dict[str, str] | None = None,
    statement_timeout_ms: int = 30_000,
) -> AsyncIterator[asyncpg.Connection]:
    """A transaction (or savepoint) in which `conn` acts as `role` inside `schema`.

    On success the connection is back to its own role before the (sub)transaction
    ends, so the caller's outer transaction can go on writing the sandbox's tables.
    """
    setup = (
        f"SET LOCAL ROLE {quote_ident(role)}; "
        f"SET LOCAL search_path TO {quote_ident(schema)}, auth; "
        f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}; "
        f"SELECT set_config('request.jwt.claims', {quote_literal(json.dumps(claims or {}))}, true)"
    )
    async with conn.transaction():
        await conn.execute(setup)
        yield conn
        await conn.execute("RESET ROLE; SET LOCAL search_path TO DEFAULT")


def jsonable(value: Any) -> Any:
    """A value from asyncpg as something `json.dumps` writes."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return float(value) if value == value.to_integral_value() or abs(value) < 1e15 else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, asyncpg.Record):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def to_json(value: Any) -> str:
    """JSON text of a value from asyncpg."""
    return json.dumps(jsonable(value))
