"""Shared fixtures: a real PostgreSQL server for the whole test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appwright.sandbox.postgres import EmbeddedPostgres


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
