"""A small registry of numbered schema migrations.

Like sqlite-utils' `Migrations`, but numbered: migration N turns a schema at
version N-1 into version N, and the version reached is recorded in the table
`_appwright_meta` (not in `PRAGMA user_version`, which belongs to the whole file,
and the file is shared with LangGraph's checkpointer). Applying is a no-op when
nothing is pending, and a store whose version is newer than the newest migration
known here is refused: an older appwright must not write into a schema it does not
understand.

The registry runs no transaction of its own: `apply` must be called inside the
store's `atomic()`, which makes the migrations and the version bump one unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from .errors import StoreTooNew

__all__ = ["META_TABLE", "Migration", "MigrationFn", "Migrations"]

META_TABLE = "_appwright_meta"
"""The key/value table that holds the schema version (key `schema_version`)."""

_VERSION_KEY = "schema_version"

MigrationFn = Callable[[Database], None]
"""A migration's body: executes DDL/DML on the database it is given."""


@dataclass(frozen=True, kw_only=True)
class Migration:
    """One registered migration."""

    version: int
    """The schema version the migration produces (1, 2, 3, ...)."""
    name: str
    """A short description, from the function's name unless given."""
    fn: MigrationFn
    """The body."""


class Migrations:
    """An ordered set of migrations, registered with the instance as a decorator.

    >>> migrations = Migrations()
    >>> @migrations(1)
    ... def create_runs(db: Database) -> None: ...
    """

    def __init__(self) -> None:
        self._migrations: list[Migration] = []

    def __call__(
        self, version: int, name: str | None = None
    ) -> Callable[[MigrationFn], MigrationFn]:
        """Register the decorated function as migration `version` (the next number in turn)."""

        def register(fn: MigrationFn) -> MigrationFn:
            expected = self.latest + 1
            if version != expected:
                raise ValueError(f"migration {version} registered out of turn; expected {expected}")
            self._migrations.append(Migration(version=version, name=name or fn.__name__, fn=fn))
            return fn

        return register

    @property
    def latest(self) -> int:
        """The version a store reaches once every registered migration has run (0 if none)."""
        return self._migrations[-1].version if self._migrations else 0

    def current(self, db: Database) -> int:
        """The version recorded in `db`; 0 for a database that has no meta table yet."""
        if META_TABLE not in db.table_names():
            return 0
        rows = list(db.query(f"SELECT value FROM {META_TABLE} WHERE key = ?", [_VERSION_KEY]))
        return int(rows[0]["value"]) if rows else 0

    def pending(self, db: Database, *, path: Path) -> list[Migration]:
        """The migrations `db` still needs, in order; raises `StoreTooNew` for a newer store."""
        found = self.current(db)
        if found > self.latest:
            raise StoreTooNew(path, found, self.latest)
        return self._migrations[found:]

    def apply(self, db: Database, *, path: Path) -> list[Migration]:
        """Run the pending migrations and record the version; returns those that ran.

        Must run inside a transaction (the store's `atomic()`); `path` names the
        file in errors.
        """
        if not db.conn.in_transaction:
            raise RuntimeError("Migrations.apply must run inside the store's atomic()")
        pending = self.pending(db, path=path)
        if not pending:
            return []
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {META_TABLE} "
            "(key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT"
        )
        for migration in pending:
            migration.fn(db)
        db.execute(
            f"INSERT INTO {META_TABLE} (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [_VERSION_KEY, str(pending[-1].version)],
        )
        return pending
