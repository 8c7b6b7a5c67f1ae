"""Fixtures for end-to-end sandbox tests: a real uvicorn on loopback over real Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appwright.sandbox.app import SandboxConfig
from appwright.sandbox.server import SandboxServer


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
