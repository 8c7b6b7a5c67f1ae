"""Idempotency-Key: the same key + method + path within 24 h gets the stored answer.

The work of a call, and the storing of its answer under its key, commit in one
transaction, so a call either happened once with its answer kept, or not at all.
Concurrent calls with one key wait on an advisory lock: the first does the work,
the others get its answer. A key is scoped to its caller (the payer of a paid call,
the credential of any other), so nobody replays somebody else's answer by reusing
their key. The seed promises this for the paid routes; the sandbox
also honours it on admin SQL, RLS and REST writes, so that an agent that lost an
answer can resend the call without creating a table or a seed row twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["with_idempotency", "credential_scope", "IDEMPOTENCY_TTL"]

IDEMPOTENCY_TTL = "24 hours"

Work = Callable[[asyncpg.Connection], Awaitable[Response]]


async def with_idempotency(
    request: Request, pool: asyncpg.Pool, work: Work, *, scope: str | None = None,
) -> Response:
    """Replay the stored answer for this key, or do the work and store its answer.

    `scope` names the caller; by default a hash of the request's credentials.
    """
    key = request.headers.get("idempotency-key")
    scope = scope or credential_scope(request)
    async with pool.acquire() as conn, conn.transaction():
        if key:
            stored = await _replay(conn, key, scope, request)
            if stored is not None:
                return stored
        response = await work(conn)
        if key and response.status_code < 400:
            await _store(conn, key, scope, request, response)
        return response


def credential_scope(request: Request) -> str:
    """A stable, non-secret name for the credentials a request carries."""
    secret = f"{request.headers.get('authorization', '')}\n{request.headers.get('apikey', '')}"
    return "cred:" + hashlib.sha256(secret.encode()).hexdigest()[:32]


async def _replay(conn: asyncpg.Connection, key: str, scope: str, request: Request) -> Response | None:
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 402))",
        f"{key}\n{request.method}\n{request.url.path}\n{scope}",
    )
    row = await conn.fetchrow(
        "SELECT status, body, headers FROM sandbox.idempotency "
        "WHERE key = $1 AND method = $2 AND path = $3 AND scope = $4 "
        f"AND created_at > now() - interval '{IDEMPOTENCY_TTL}'",
        key, request.method, request.url.path, scope,
    )
    if row is None:
        return None
    headers = dict(json.loads(row["headers"]) if isinstance(row["headers"], str) else row["headers"])
    headers["Idempotent-Replayed"] = "true"
    return Response(bytes(row["body"]), status_code=row["status"], headers=headers)


async def _store(
    conn: asyncpg.Connection, key: str, scope: str, request: Request, response: Response,
) -> None:
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    await conn.execute(
        "INSERT INTO sandbox.idempotency (key, method, path, scope, status, body, headers) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key, method, path, scope) DO UPDATE "
        "SET status = excluded.status, body = excluded.body, headers = excluded.headers, "
        "created_at = now()",
        key, request.method, request.url.path, scope, response.status_code, bytes(response.body), headers,
    )
