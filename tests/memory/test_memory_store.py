"""The store file: WAL, busy timeout, atomic(), corrupt and foreign files."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from appwright.memory import MemoryStore, RunId, StepId, StoreCorrupt
from appwright.memory.schema import APPWRIGHT_TABLES, LANGGRAPH_TABLES

STEP = StepId("provision")


def test_the_file_is_in_wal_mode_with_only_prefixed_tables(store: MemoryStore) -> None:
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    assert tables == APPWRIGHT_TABLES
    assert not tables & LANGGRAPH_TABLES


def test_the_parent_folder_is_created(tmp_path: Path) -> None:
    with MemoryStore(tmp_path / "a" / "b" / "store.db") as store:
        assert store.path.is_file()


def test_atomic_rolls_everything_back_on_error(store: MemoryStore, run_id: RunId) -> None:
    with pytest.raises(RuntimeError, match="boom"), store.atomic():
        store.put_facts(run_id, STEP, {"project_id": "p1"})
        store.log_event(run_id, STEP, "step_started")
        store.journal_begin(run_id, STEP, 1, "create_project", {})
        raise RuntimeError("boom")
    with MemoryStore(store.path) as other:
        assert other.all_facts(run_id) == {}
        assert other.events(run_id) == []
        assert other.journal(run_id) == []


def test_atomic_commits_for_other_connections_to_see(store: MemoryStore, run_id: RunId) -> None:
    with store.atomic():
        store.put_facts(run_id, STEP, {"project_id": "p1"})
        store.put_facts(run_id, STEP, {"schema": "p0001"})
    with MemoryStore(store.path) as other:
        assert other.all_facts(run_id) == {"project_id": "p1", "schema": "p0001"}


def test_a_nested_atomic_rolls_back_only_itself(store: MemoryStore, run_id: RunId) -> None:
    with store.atomic():
        store.put_facts(run_id, STEP, {"kept": 1})
        with pytest.raises(ValueError), store.atomic():
            store.put_facts(run_id, STEP, {"lost": 2})
            raise ValueError("inner")
        store.put_facts(run_id, STEP, {"also_kept": 3})
    assert store.all_facts(run_id) == {"kept": 1, "also_kept": 3}


def test_a_failed_write_leaves_no_partial_rows(store: MemoryStore, run_id: RunId) -> None:
    with pytest.raises(TypeError, match="plain JSON"):
        store.put_facts(run_id, STEP, {"fine": 1, "not_json": object()})
    assert store.all_facts(run_id) == {}


def _hold_write_lock(path: Path, seconds: float, locked: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    locked.set()
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()


def test_a_writer_waits_for_another_connection_s_lock(store: MemoryStore, run_id: RunId) -> None:
    locked = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(store.path, 0.3, locked))
    holder.start()
    locked.wait()
    started = time.monotonic()
    store.put_facts(run_id, STEP, {"project_id": "p1"})
    waited = time.monotonic() - started
    holder.join()
    assert waited >= 0.2
    assert store.get_facts(run_id, ["project_id"]) == {"project_id": "p1"}


def test_the_busy_timeout_is_the_one_configured(store_path: Path) -> None:
    with MemoryStore(store_path, busy_timeout_ms=50) as store:
        run = store.create_run(platform="run402", api_base="http://x")
        locked = threading.Event()
        holder = threading.Thread(target=_hold_write_lock, args=(store_path, 0.3, locked))
        holder.start()
        locked.wait()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            store.put_facts(run.run_id, STEP, {"project_id": "p1"})
        holder.join()


def test_threads_share_one_store(store: MemoryStore, run_id: RunId) -> None:
    def log(n: int) -> None:
        for i in range(50):
            with store.atomic():
                store.log_event(run_id, StepId(f"s{n}"), "action", {"i": i})
                store.put_facts(run_id, StepId(f"s{n}"), {f"k{n}": i})

    threads = [threading.Thread(target=log, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.events(run_id)) == 200
    assert store.all_facts(run_id) == {f"k{n}": 49 for n in range(4)}


def test_a_file_that_is_not_sqlite_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_text("these are my notes, not a database\n" * 20)
    with pytest.raises(StoreCorrupt, match="not an SQLite database") as caught:
        MemoryStore(path)
    assert str(path) in str(caught.value)
    assert "Move it aside" in str(caught.value)
    assert path.read_text().startswith("these are my notes")


@pytest.mark.parametrize("offset", [100, 4096], ids=["schema page", "data pages"])
def test_a_damaged_store_is_corrupt(store_path: Path, offset: int) -> None:
    with MemoryStore(store_path) as store:
        run = store.create_run(platform="run402", api_base="http://x")
        with store.atomic():
            for i in range(300):
                store.log_event(
                    run.run_id, STEP, "action", {"i": i, "sql": "CREATE TABLE t (id int)"}
                )
    assert not store_path.with_name("store.db-wal").exists()  # all pages are in the file
    with store_path.open("r+b") as file:
        file.seek(offset)
        file.write(bytes(range(256)) * 16)
    with pytest.raises(StoreCorrupt) as caught:
        MemoryStore(store_path)
    assert str(store_path) in str(caught.value)


def test_another_program_s_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    with pytest.raises(StoreCorrupt, match=r"another program's database.*customers"):
        MemoryStore(path)
    with sqlite3.connect(path) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master")]
    assert tables == ["customers"]


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.touch()
    with MemoryStore(path) as store:
        assert store.list_runs() == []


def test_close_twice_is_harmless(store_path: Path) -> None:
    store = MemoryStore(store_path)
    store.close()
    store.close()
