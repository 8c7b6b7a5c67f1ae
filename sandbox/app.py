"""The sandbox's ASGI app: a Run402-compatible API over a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from . import (
    api_admin, api_altatech, api_auth, api_billing, api_images, api_lifecycle, api_projects, api_rest,
    api_sites, api_storage, api_subdomains, control,
)
from . import api_bundle, api_functions, api_publish, api_secrets
from .context import RateLimiter, Sandbox
from .db import reset_session
from .errors import ApiError, api_error_handler, http_error_handler, internal_error_handler
from .fastpath import FastPath
from .keys import KeyRing
from .postgres import EmbeddedPostgres
from .read_connections import ReadConnections

__all__ = ["SandboxConfig", "create_app"]


@dataclass(frozen=True, kw_only=True)
class SandboxConfig:
    """How a sandbox server runs."""

    data_dir: Path
    """Where the embedded Postgres keeps its cluster (unused with database_url)."""
    database_url: str | None = None
    """Use this existing Postgres (superuser DSN) instead of starting one."""
    network: str = "eip155:84532"
    """The x402 network paid routes ask for; Base Sepolia unless told otherwise."""
    rate_limit: int = 100
    """Requests per second per project before 429."""
    faucet_interval_s: int = 86_400
    """One faucet grant per address per this many seconds (0: no limit, for local builds)."""


_ROUTERS = (
    api_projects, api_admin, api_rest, api_auth, api_sites, api_subdomains, api_billing,
    api_storage, api_images, api_lifecycle, api_altatech,
    api_functions, api_secrets, api_bundle, api_publish,
)
"""Route modules, in the order the app matches their routes."""


def create_app(config: SandboxConfig) -> ASGIApp:
    """The sandbox: its full app behind the fast path for REST reads and paid calls."""
    return FastPath(create_full_app(config), [module.router for module in _ROUTERS])


def create_full_app(config: SandboxConfig) -> Starlette:
    """A sandbox app; its lifespan starts Postgres (unless given one) and the pool.

    Unknown routes and wrong methods answer in the sandbox's error shape, like every
    other error; a path with a trailing slash too many (or too few) is redirected, as
    Starlette's router does by default.
    """
    return Starlette(
        routes=[route for module in _ROUTERS for route in module.router.routes],
        middleware=[
            # Outermost: a site Host (<dpl_id>.sites.localhost, <name>.localhost) never reaches the API.
            Middleware(api_sites.SiteHostMiddleware),
            Middleware(
                CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"],
                expose_headers=["Content-Range", "PAYMENT-REQUIRED", "PAYMENT-RESPONSE"], max_age=600,
            ),
        ],
        exception_handlers={
            ApiError: api_error_handler, HTTPException: http_error_handler, Exception: internal_error_handler,
        },
        lifespan=_lifespan(config),
    )


def _lifespan(config: SandboxConfig):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        postgres = None
        dsn = config.database_url
        if dsn is None:
            # Started from the server's own thread: the postmaster dies with that thread.
            postgres = EmbeddedPostgres(data_dir=config.data_dir)
            dsn = postgres.start()
        try:
            async with AsyncExitStack() as opened:  # whatever opened is closed, a failed start included
                pool = await asyncpg.create_pool(
                    dsn, min_size=2, max_size=32, init=_init_connection, reset=reset_session,
                )
                opened.push_async_callback(pool.close)
                # REST reads have connections of their own: they never carry what admin SQL
                # may leave on a connection of the main pool.
                reads = ReadConnections(dsn, server_settings={"statement_timeout": "30000"})
                await reads.open()
                opened.push_async_callback(reads.close)
                async with pool.acquire() as conn:
                    await control.migrate(conn)
                    secret = await control.jwt_secret(conn)
                app.state.sandbox = Sandbox(
                    pool=pool, reads=reads, keys=KeyRing(secret=secret), network=config.network,
                    limiter=RateLimiter(limit=config.rate_limit), faucet_interval_s=config.faucet_interval_s, dsn=dsn,
                )
                app.state.postgres = postgres
                flusher = asyncio.create_task(app.state.sandbox.usage.flush_forever(pool))
                try:
                    yield
                finally:
                    flusher.cancel()
                    with suppress(asyncio.CancelledError):
                        await flusher
        finally:
            if postgres is not None:
                postgres.stop()

    return lifespan


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=_json_text, decoder=json.loads, schema="pg_catalog")


def _json_text(value: object) -> str:
    # Text is taken as JSON already written (the REST layer sends bodies as text).
    return value if isinstance(value, str) else json.dumps(value)
