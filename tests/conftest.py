"""Shared fixtures: a real PostgreSQL server and a real sandbox on loopback for the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appwright.sandbox.app import SandboxConfig
from appwright.sandbox.postgres import EmbeddedPostgres
from appwright.sandbox.server import SandboxServer


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """One embedded Postgres cluster shared by the session's tests."""
    server = EmbeddedPostgres(data_dir=tmp_path_factory.mktemp("pg"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_dsn(pg_server: EmbeddedPostgres) -> str:
    """The superuser DSN of the session's Postgres."""
    return pg_server.dsn


@pytest.fixture(scope="session")
def sandbox(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """A sandbox served on loopback for the whole session, on the session's Postgres."""
    server = SandboxServer(config=SandboxConfig(data_dir=tmp_path_factory.mktemp("sbx"), database_url=pg_dsn))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def api(sandbox: SandboxServer) -> str:
    """The sandbox's API base URL."""
    return sandbox.url
