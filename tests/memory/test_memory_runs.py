"""Runs: create, read, list, status; the lease within one process."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from appwright.memory import (
    MemoryStore,
    RunBusy,
    RunExists,
    RunId,
    RunStatus,
    StepId,
    UnknownRun,
)


def test_a_new_run_is_pending(store: MemoryStore) -> None:
    run = store.create_run(
        platform="run402", api_base="http://127.0.0.1:4020", idea="a todo app", blueprint="todo"
    )
    assert run.run_id.startswith("run-")
    assert run.status is RunStatus.PENDING
    assert (run.idea, run.blueprint, run.platform) == ("a todo app", "todo", "run402")
    assert run.current_step is None and run.error is None
    assert run.created_at == run.updated_at
    assert store.get_run(run.run_id) == run


def test_a_run_id_can_be_chosen_but_not_reused(store: MemoryStore) -> None:
    store.create_run(platform="run402", api_base="http://x", run_id=RunId("mine"))
    with pytest.raises(RunExists, match="'mine' already exists"):
        store.create_run(platform="run402", api_base="http://x", run_id=RunId("mine"))


def test_an_unknown_run_says_how_to_list_runs(store: MemoryStore) -> None:
    with pytest.raises(UnknownRun, match=r"no run 'nope'.*`appwright runs`"):
        store.get_run(RunId("nope"))
    with pytest.raises(UnknownRun):
        store.log_event(RunId("nope"), StepId("plan"), "step_started")


def test_runs_are_listed_newest_first_and_by_status(store: MemoryStore) -> None:
    first = store.create_run(platform="run402", api_base="http://x")
    second = store.create_run(platform="altatech", api_base="http://y")
    store.set_run_status(second.run_id, "done")
    assert [r.run_id for r in store.list_runs()] == [second.run_id, first.run_id]
    assert [r.run_id for r in store.list_runs(status=RunStatus.DONE)] == [second.run_id]


def test_status_step_and_error(store: MemoryStore, run_id: RunId) -> None:
    running = store.set_run_status(run_id, RunStatus.RUNNING, current_step=StepId("seed"))
    assert (running.status, running.current_step) == (RunStatus.RUNNING, "seed")
    failed = store.set_run_status(
        run_id, "failed", error="403 for Authorization: Bearer eyJhbGciOi.eyJyb2xlIjoi.c2ln"
    )
    assert failed.current_step == "seed"  # kept when not given
    assert failed.error == "403 for Authorization: Bearer [redacted]"
    assert failed.updated_at > running.updated_at
    with pytest.raises(ValueError):
        store.set_run_status(run_id, "sleeping")


def test_the_holder_renews_its_own_lease(store: MemoryStore, run_id: RunId) -> None:
    store.acquire_run(run_id, "cli")
    store.acquire_run(run_id, "cli")
    run = store.get_run(run_id)
    assert (run.lease_owner, run.lease_pid) == ("cli", os.getpid())


def test_another_owner_in_the_same_process_is_busy(store: MemoryStore, run_id: RunId) -> None:
    store.acquire_run(run_id, "cli")
    with pytest.raises(RunBusy, match=r"'cli' \(pid \d+ on .*\) is working on it") as caught:
        store.acquire_run(run_id, "mcp")
    assert caught.value.pid == os.getpid()
    assert 290 < caught.value.expires_in <= 300


def test_release_frees_the_run_only_for_its_holder(store: MemoryStore, run_id: RunId) -> None:
    store.acquire_run(run_id, "cli")
    store.release_run(run_id, "mcp")  # not the holder: nothing happens
    assert store.get_run(run_id).lease_owner == "cli"
    store.release_run(run_id, "cli")
    assert store.get_run(run_id).lease_owner is None
    store.acquire_run(run_id, "mcp")


def test_hold_run_releases_after_the_block(store: MemoryStore, run_id: RunId) -> None:
    with pytest.raises(RuntimeError), store.hold_run(run_id, "cli"):
        assert store.get_run(run_id).lease_owner == "cli"
        raise RuntimeError("step failed")
    assert store.get_run(run_id).lease_owner is None


def test_an_expired_lease_can_be_taken(store_path: Path) -> None:
    with MemoryStore(store_path, lease_seconds=0.05) as store:
        run = store.create_run(platform="run402", api_base="http://x")
        store.acquire_run(run.run_id, "cli")
        time.sleep(0.1)
        store.acquire_run(run.run_id, "mcp")
        assert store.get_run(run.run_id).lease_owner == "mcp"


def _set_lease(path: Path, run_id: RunId, *, pid: int, token: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE aw_runs SET lease_owner = 'cli', lease_pid = ?, lease_token = ?,"
            " lease_host = (SELECT lease_host FROM aw_runs WHERE run_id = ?),"
            " lease_expires = ? WHERE run_id = ?",
            [pid, token, run_id, time.time() + 300, run_id],
        )


def test_a_lease_of_a_dead_pid_can_be_taken(store: MemoryStore, run_id: RunId) -> None:
    store.acquire_run(run_id, "cli")  # records this host
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    _set_lease(store.path, run_id, pid=int(dead.stdout), token="someone-else")
    store.acquire_run(run_id, "mcp")
    assert store.get_run(run_id).lease_owner == "mcp"


def test_a_lease_with_our_pid_but_not_our_token_is_a_predecessor_s(
    store: MemoryStore, run_id: RunId
) -> None:
    # A restarted container often runs the new process under the old pid.
    store.acquire_run(run_id, "cli")
    _set_lease(store.path, run_id, pid=os.getpid(), token="previous-incarnation")
    store.acquire_run(run_id, "cli")
    assert store.get_run(run_id).lease_pid == os.getpid()
