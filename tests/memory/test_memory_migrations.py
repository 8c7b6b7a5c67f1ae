"""Schema migrations: applied once, recorded in `_appwright_meta`, newer stores refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from appwright.memory import MemoryStore, Migrations, StoreTooNew
from appwright.memory.migrations import META_TABLE
from appwright.memory.schema import MIGRATIONS
from sqlite_utils import Database


def _schema(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()


def _version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
        ).fetchone()
    return int(row[0])


def _toy(calls: list[str], versions: int) -> Migrations:
    toy = Migrations()
    for version in range(1, versions + 1):

        def migrate(db: Database, version: int = version) -> None:
            calls.append(f"v{version}")
            db.execute(f"CREATE TABLE toy_{version} (id INTEGER PRIMARY KEY)")

        toy(version, name=f"toy {version}")(migrate)
    return toy


def test_a_new_store_is_at_the_latest_version(store: MemoryStore) -> None:
    assert MIGRATIONS.latest >= 1
    assert _version(store.path) == MIGRATIONS.latest


def test_reopening_a_store_changes_nothing(store: MemoryStore) -> None:
    before = _schema(store.path)
    MemoryStore(store.path).close()
    MemoryStore(store.path).close()
    assert _schema(store.path) == before
    with store.atomic() as db:
        assert MIGRATIONS.apply(db, path=store.path) == []


def test_applying_twice_runs_each_migration_once(tmp_path: Path) -> None:
    calls: list[str] = []
    db = Database(tmp_path / "toy.db")
    with db.atomic():
        applied = _toy(calls, 2).apply(db, path=tmp_path / "toy.db")
    with db.atomic():
        again = _toy(calls, 2).apply(db, path=tmp_path / "toy.db")
    assert [m.version for m in applied] == [1, 2]
    assert again == []
    assert calls == ["v1", "v2"]


def test_a_later_release_applies_only_its_new_migrations(tmp_path: Path) -> None:
    calls: list[str] = []
    db = Database(tmp_path / "toy.db")
    with db.atomic():
        _toy(calls, 1).apply(db, path=tmp_path / "toy.db")
    with db.atomic():
        _toy(calls, 3).apply(db, path=tmp_path / "toy.db")
    assert calls == ["v1", "v2", "v3"]
    assert _toy([], 3).current(db) == 3


def test_a_failing_migration_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    toy = _toy([], 1)

    @toy(2)
    def broken(db: Database) -> None:
        db.execute("CREATE TABLE half_done (id INTEGER)")
        raise RuntimeError("migration bug")

    db = Database(tmp_path / "toy.db")
    with pytest.raises(RuntimeError, match="migration bug"), db.atomic():
        toy.apply(db, path=tmp_path / "toy.db")
    assert toy.current(db) == 0
    assert db.table_names() == []


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "toy.db"
    db = Database(path)
    with db.atomic():
        _toy([], 3).apply(db, path=path)
    with pytest.raises(StoreTooNew) as caught, db.atomic():
        _toy([], 2).apply(db, path=path)
    assert (caught.value.found, caught.value.known) == (3, 2)
    assert str(path) in str(caught.value)


def test_a_store_from_a_newer_appwright_is_refused_and_left_alone(store_path: Path) -> None:
    MemoryStore(store_path).close()
    with sqlite3.connect(store_path) as conn:
        conn.execute(f"UPDATE {META_TABLE} SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreTooNew, match=r"version 99.*Upgrade appwright"):
        MemoryStore(store_path)
    assert _version(store_path) == 99


def test_migrations_are_numbered_in_turn() -> None:
    toy = _toy([], 1)
    with pytest.raises(ValueError, match="out of turn"):
        toy(3)(lambda db: None)


def test_apply_refuses_to_run_outside_a_transaction(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="atomic"):
        _toy([], 1).apply(Database(tmp_path / "toy.db"), path=tmp_path / "toy.db")


def test_version_2_keeps_a_version_1_stores_runs_and_log(tmp_path: Path) -> None:
    """A store written by the first release opens with its runs, facts and log intact."""
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    db = Database(conn)
    db.execute("BEGIN")
    MIGRATIONS._migrations[0].fn(db)  # only migration 1: the schema as version 1 wrote it
    db.execute(f"CREATE TABLE {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT")
    db.execute(f"INSERT INTO {META_TABLE} VALUES ('schema_version', '1')")
    db.execute("INSERT INTO aw_runs (run_id, platform, api_base, status, created_at, updated_at)"
               " VALUES ('r1', 'run402', 'http://x', 'waiting', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')")
    db.execute("INSERT INTO aw_facts VALUES ('r1', 'app', '{}', 0, 'plan', '2026-01-01T00:00:00+00:00')")
    db.execute("INSERT INTO aw_events (run_id, step_id, kind, at, data) VALUES ('r1', 'plan', 'question', '2026-01-01T00:00:00+00:00', '{}')")
    db.execute("COMMIT")
    conn.close()

    store = MemoryStore(path)
    run = store.set_run_status("r1", "acting")  # a status version 1 did not allow
    assert run.status == "acting"
    assert [e.kind for e in store.events("r1")] == ["question"]
    assert store.all_facts("r1", redact=False) == {"app": {}}
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA foreign_keys = ON")
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("DELETE FROM aw_events")
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            raw.execute("INSERT INTO aw_facts VALUES ('nope', 'k', '1', 0, 's', 't')")
