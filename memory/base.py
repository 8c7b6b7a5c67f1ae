"""The store's core: one connection, one way to write (`atomic()`), one way to read.

Every write in the store goes through `atomic()`: `BEGIN IMMEDIATE` ... `COMMIT`,
or `ROLLBACK` when the block raises. Nested `atomic()` blocks become savepoints, so
the engine can wrap several store calls (finish a journaled call, record its
payment, store facts) into one all-or-nothing unit.

A lock serialises threads on the shared connection; it is held for a whole
transaction, so no thread ever reads another thread's uncommitted writes.

The domain APIs (runs, facts, events, journal, payments) are mixins over this
class; `MemoryStore` in `store.py` puts them together.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType

from sqlite_utils import Database

from .connection import corruption_guard, open_connection
from .errors import StoreCorrupt, UnknownRun
from .ids import RunId
from .migrations import META_TABLE
from .schema import APPWRIGHT_TABLES, LANGGRAPH_TABLES, MIGRATIONS

__all__ = ["StoreBase"]


class StoreBase:
    """An open store file: connection, migrations, transactions."""

    def __init__(
        self,
        path: Path | str,
        *,
        busy_timeout_ms: int = 10_000,
        lease_seconds: float = 300.0,
    ) -> None:
        self.path: Path = Path(path)
        """The SQLite file. LangGraph's `SqliteSaver` may open it too (its tables don't collide)."""
        self.lease_seconds: float = lease_seconds
        """How long a run lease lasts without renewal before another process may take it."""
        self._lock = threading.RLock()
        self._depth = 0  # nesting depth of atomic() blocks; 0 = no transaction
        self._db = Database(
            open_connection(self.path, busy_timeout_ms=busy_timeout_ms), execute_plugins=False
        )
        try:
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    def _migrate(self) -> None:
        with self._read() as db:
            self._refuse_foreign(db)
            # Read first: an up-to-date store opens without taking the write lock.
            if not MIGRATIONS.pending(db, path=self.path):
                return
        with self.atomic() as db:
            MIGRATIONS.apply(db, path=self.path)

    def _refuse_foreign(self, db: Database) -> None:
        # Adding our tables to some other program's database would be a surprise.
        tables = set(db.table_names())
        if META_TABLE in tables:
            return
        foreign = sorted(tables - APPWRIGHT_TABLES - LANGGRAPH_TABLES)
        if foreign:
            raise StoreCorrupt(
                self.path, f"it is another program's database (tables {', '.join(foreign[:5])})"
            )

    @contextmanager
    def atomic(self) -> Iterator[Database]:
        """One transaction (a savepoint when nested); commits on exit, rolls back on error."""
        with self._lock, corruption_guard(self.path):
            if self._depth:
                yield from self._savepoint()
            else:
                yield from self._transaction()

    def _transaction(self) -> Iterator[Database]:
        conn = self._db.conn
        conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self._db
            conn.execute("COMMIT")
        except BaseException:
            # A failed COMMIT or an error that already ended the transaction
            # leaves nothing to roll back.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            self._depth = 0

    def _savepoint(self) -> Iterator[Database]:
        conn = self._db.conn
        name = f"aw_atomic_{self._depth}"
        conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield self._db
        except BaseException:
            if conn.in_transaction:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
            raise
        else:
            conn.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    @contextmanager
    def _read(self) -> Iterator[Database]:
        """The database for reading; hold it only while materialising results."""
        with self._lock, corruption_guard(self.path):
            yield self._db

    def _require_run(self, db: Database, run_id: RunId) -> None:
        rows = db.execute("SELECT 1 FROM aw_runs WHERE run_id = ?", [run_id]).fetchall()
        if not rows:
            raise UnknownRun(run_id, self.path)

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards. Safe to call twice."""
        with self._lock, suppress(sqlite3.ProgrammingError):  # already closed
            self._db.close()

    def __enter__(self) -> StoreBase:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"
