"""Opening the store's SQLite file, and telling a damaged file from a busy one.

The connection runs in autocommit mode (`isolation_level=None`): the store begins
every transaction itself, with `BEGIN IMMEDIATE`, so that a writer takes the write
lock before it reads what it is about to change (a deferred transaction that reads
first can fail with SQLITE_BUSY on upgrade, which no busy timeout helps).
WAL lets readers (`appwright show`) read while a run writes; `synchronous=FULL`
because the journal's promise (a finished call is never sent again) must survive
a power cut, not just a crash.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import StoreCorrupt, StoreError

__all__ = ["corruption_guard", "open_connection"]

_HEADER = b"SQLite format 3\x00"
_CORRUPTION_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


def open_connection(path: Path, *, busy_timeout_ms: int) -> sqlite3.Connection:
    """A checked, configured connection to the SQLite file at `path` (created if absent)."""
    _check_header(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(
            path,
            timeout=busy_timeout_ms / 1000,
            isolation_level=None,
            # The store serialises its own use of the connection with a lock.
            check_same_thread=False,
        )
    except sqlite3.OperationalError as error:
        raise StoreError(f"cannot open store {path}: {error}") from error
    try:
        with corruption_guard(path):
            _configure(conn, path, busy_timeout_ms)
            _quick_check(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def corruption_guard(path: Path) -> Iterator[None]:
    """Turn SQLite's "malformed" and "not a database" errors into `StoreCorrupt`."""
    try:
        yield
    except sqlite3.DatabaseError as error:
        # Extended codes (SQLITE_CORRUPT_INDEX, ...) keep the primary code in the low byte.
        code = getattr(error, "sqlite_errorcode", 0) & 0xFF
        if code in _CORRUPTION_CODES:
            raise StoreCorrupt(path, str(error)) from error
        raise


def _check_header(path: Path) -> None:
    # An empty or absent file becomes a new database; anything else must be SQLite.
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb") as file:
        if file.read(len(_HEADER)) != _HEADER:
            raise StoreCorrupt(path, "it is not an SQLite database")


def _configure(conn: sqlite3.Connection, path: Path, busy_timeout_ms: int) -> None:
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        raise StoreError(f"cannot switch {path} to WAL mode (it stays in {mode!r} mode)")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")


def _quick_check(conn: sqlite3.Connection, path: Path) -> None:
    problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
    if problems != ["ok"]:
        raise StoreCorrupt(path, "; ".join(problems[:3]))
