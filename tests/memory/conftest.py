"""Fixtures for the memory-store tests: a real store file per test, and child processes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from appwright.memory import MemoryStore, RunId


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Where the test's store file lives."""
    return tmp_path / "state" / "store.db"


@pytest.fixture
def store(store_path: Path) -> Iterator[MemoryStore]:
    """An open store on a fresh file."""
    store = MemoryStore(store_path)
    yield store
    store.close()


@pytest.fixture
def run_id(store: MemoryStore) -> RunId:
    """A run in `store`."""
    return store.create_run(
        platform="run402", api_base="http://127.0.0.1:4020", idea="a todo app"
    ).run_id


Spawn = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start `python -c code *args`; every child still running at the end is killed."""
    children: list[subprocess.Popen[str]] = []

    def start(code: str, *args: object) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, "-c", code, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait()


WaitFor = Callable[[Path], str]


@pytest.fixture
def wait_for() -> WaitFor:
    """A function that waits for another process to write a file, and returns its text."""
    return _wait_for


def _wait_for(path: Path, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        time.sleep(0.01)
    raise TimeoutError(f"{path} was not written within {timeout} s")
