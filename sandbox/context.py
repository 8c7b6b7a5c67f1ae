"""What every route needs: the sandbox's state, and who is calling for which project."""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from starlette.requests import Request

from .bodies import JSON_BODY_BYTES, read_body
from .errors import ApiError
from .keys import KeyRing, Principal
from .projects import Project, ProjectCache
from .read_connections import ReadConnections
from .rest_plans import ReadPlans
from .usage import Usage

__all__ = ["Sandbox", "sandbox_of", "bearer", "bearer_token", "admin_project", "api_caller", "caller_of", "RateLimiter", "json_body", "json_value"]


class RateLimiter:
    """At most `limit` requests per second per project, as the hosted service allows."""

    def __init__(self, *, limit: int) -> None:
        self._limit = limit
        self._seen: dict[str, deque[float]] = {}

    def check(self, project_id: str) -> None:
        """Count one request, or refuse it with a 429 and retry_after."""
        now = time.monotonic()
        window = self._seen.setdefault(project_id, deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= self._limit:
            retry_after = round(1.0 - (now - window[0]), 3)
            raise ApiError(
                429, "rate_limited", f"more than {self._limit} requests per second for this project",
                hint=f"retry after {retry_after} s", retry_after=retry_after,
                headers={"Retry-After": str(max(1, round(retry_after)))},
            )
        window.append(now)


@dataclass(kw_only=True)
class Sandbox:
    """The live state of one sandbox server."""

    pool: asyncpg.Pool
    """Superuser connections to the sandbox's database."""
    reads: ReadConnections
    """The connections REST reads run on."""
    keys: KeyRing
    """Issues and checks project keys and user tokens."""
    network: str = "eip155:84532"
    """The x402 network paid routes ask for."""
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(limit=100))
    """Per-project rate limit."""
    projects: ProjectCache = field(default_factory=ProjectCache)
    """Recently read project rows."""
    faucet_interval_s: int = 86_400
    """One faucet grant per address per this many seconds."""
    usage: Usage = field(default_factory=Usage)
    """API calls per project against the tier's quota."""
    read_plans: ReadPlans = field(default_factory=ReadPlans)
    """REST reads' SQL by query string, built once."""
    dsn: str | None = None
    """The superuser DSN of the sandbox's database (pg_dump reads a schema to publish it)."""

    async def project(self, project_id: str) -> Project:
        """The project, or a 404."""
        return await self.projects.get(self.pool, project_id)


def sandbox_of(request: Request) -> Sandbox:
    """The sandbox serving this request."""
    return request.app.state.sandbox  # type: ignore[no-any-return]


def bearer(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header."""
    return bearer_token(request.headers.get("authorization"))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization` header's value, if it is `Bearer <token>`."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def admin_project(request: Request, project_id: str, *, write: bool = True) -> Project:
    """The project of an admin route, checked against the service key in Authorization."""
    sandbox = sandbox_of(request)
    token = bearer(request)
    if token is None:
        raise ApiError(
            401, "missing_service_key", "this route needs the project's service key",
            hint="send it as Authorization: Bearer <service_key>",
        )
    principal = sandbox.keys.resolve(token)
    _check_service(principal, project_id)
    project = await sandbox.project(project_id)
    project.check_access(write=write)
    return project


def _check_service(principal: Principal, project_id: str) -> None:
    if principal.role != "service_role":
        raise ApiError(
            403, "service_key_required", "this route needs the service key, not an anon key or user token",
            hint="send Authorization: Bearer <service_key>",
        )
    if principal.project_id != project_id:
        raise ApiError(403, "wrong_project", "this key belongs to another project")


async def api_caller(request: Request, *, write: bool) -> tuple[Principal, Project]:
    """Who calls a REST/auth/storage route (apikey header) and for which project."""
    return await caller_of(sandbox_of(request), token=bearer(request), apikey=request.headers.get("apikey"), write=write)


async def caller_of(sandbox: Sandbox, *, token: str | None, apikey: str | None, write: bool) -> tuple[Principal, Project]:
    """Who sends this bearer token and apikey, and for which project; counted against its limits."""
    # A user token in Authorization wins over the anon key in apikey, as in Supabase,
    # but both must belong to the same project.
    principal = sandbox.keys.resolve(token or apikey)
    if token and apikey and apikey != token and sandbox.keys.resolve(apikey).project_id != principal.project_id:
        raise ApiError(401, "project_mismatch", "the apikey and the Authorization token belong to different projects",
                       hint="send the anon key of the project the access token was issued for")
    sandbox.limiter.check(principal.project_id)
    project = await sandbox.project(principal.project_id)
    project.check_access(write=write)
    sandbox.usage.count(project)
    return principal, project


async def json_body(
    request: Request, *, limit: int = JSON_BODY_BYTES, what: str = "a JSON body", hint: str | None = None,
) -> dict[str, Any]:
    """The request's JSON object body ({} when empty), or a 400 that says what is wrong.

    A body over `limit` bytes is a 413, refused while it is read (see `bodies.read_body`).
    """
    raw = await read_body(request, limit=limit, what=what, hint=hint)
    if not raw.strip():
        return {}
    body = _parsed(raw)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object")
    return body


async def json_value(
    request: Request, *, limit: int = JSON_BODY_BYTES, what: str = "a JSON body", hint: str | None = None,
) -> Any:
    """The request's body as any JSON value (an empty body is invalid JSON: a 400); 413 over `limit`."""
    return _parsed(await read_body(request, limit=limit, what=what, hint=hint))


def _parsed(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
