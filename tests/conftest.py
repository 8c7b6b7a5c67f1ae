"""Shared fixtures: a real PostgreSQL server and a real sandbox on loopback for the session."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from appwright.sandbox.app import SandboxConfig
from appwright.sandbox.postgres import EmbeddedPostgres
from appwright.sandbox.server import SandboxServer


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres]:
    """One embedded Postgres cluster shared by the session's tests.

    Not under pytest's tmp root: every pytest run resets /tmp/pytest-of-<user> to 0700,
    taking away the traverse right the unprivileged server user (root runs) needs, so
    a second pytest started meanwhile would make this initdb fail with EACCES.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="appwright-test-pg-"))
    server = EmbeddedPostgres(data_dir=data_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


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
