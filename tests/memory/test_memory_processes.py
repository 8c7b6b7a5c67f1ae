"""Real processes: a call killed mid-flight and resumed elsewhere; two processes, one run."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from appwright.memory import JournalStatus, MemoryStore, RunBusy, RunId

Spawn = Callable[..., subprocess.Popen[str]]  # the `spawn` fixture
WaitFor = Callable[[Path], str]  # the `wait_for` fixture

CALL = """
import json, sys, time
from pathlib import Path
from appwright.memory import MemoryStore, RunId, StepId, journaled

store_path, run_id, backend_path, mode = sys.argv[1:5]
backend = Path(backend_path)

def create_project(key):
    # The backend: one line per request it receives (it charges once per key).
    with backend.open("a") as log:
        log.write(key + "\\n")
    if mode == "hang":
        Path(backend_path + ".inflight").write_text("yes")
        time.sleep(60)  # SIGKILLed here, between journal_begin and journal_finish
    if mode == "must-not-send":
        raise AssertionError("a finished call was sent again")
    return {"project_id": "p-" + key[-6:]}

with MemoryStore(Path(store_path)) as store:
    entry = journaled(store, RunId(run_id), StepId("provision"), 1, "create_project",
                      {"tier": "prototype"}, create_project)
print(json.dumps({"result": entry.result, "attempts": entry.attempts,
                  "replayed": entry.replayed, "key": entry.idempotency_key}))
"""

LEASE = """
import os, sys, time
from pathlib import Path
from appwright.memory import MemoryStore, RunBusy, RunId

store_path, run_id, owner, out, go, stop, lease_seconds = sys.argv[1:8]

def say(text):
    # Written whole, so the parent never reads half an answer.
    Path(out + ".tmp").write_text(text)
    os.replace(out + ".tmp", out)

while not Path(go).exists():
    time.sleep(0.001)
store = MemoryStore(Path(store_path), lease_seconds=float(lease_seconds))
try:
    store.acquire_run(RunId(run_id), owner)
except RunBusy as error:
    say(f"busy {error.owner}")
    sys.exit(0)
say("acquired")
while not Path(stop).exists():
    time.sleep(0.01)
store.release_run(RunId(run_id), owner)
store.close()
"""


def _outcome(child_out: str) -> dict[str, object]:
    outcome: dict[str, object] = json.loads(child_out.strip().splitlines()[-1])
    return outcome


def test_a_call_killed_mid_flight_is_resumed_by_a_new_process(
    store: MemoryStore, run_id: RunId, tmp_path: Path, spawn: Spawn, wait_for: WaitFor
) -> None:
    backend = tmp_path / "backend.log"
    doomed = spawn(CALL, store.path, run_id, backend, "hang")
    wait_for(Path(f"{backend}.inflight"))
    doomed.send_signal(signal.SIGKILL)
    assert doomed.wait() == -signal.SIGKILL
    [entry] = store.journal(run_id)
    assert entry.status is JournalStatus.STARTED

    resumed = spawn(CALL, store.path, run_id, backend, "send")
    out, err = resumed.communicate(timeout=30)
    assert resumed.returncode == 0, err
    first = _outcome(out)
    keys = backend.read_text().split()
    assert keys == [entry.idempotency_key, entry.idempotency_key]  # re-sent with the same key
    assert first["attempts"] == 2 and first["replayed"] is False

    replay = spawn(CALL, store.path, run_id, backend, "must-not-send")
    out, err = replay.communicate(timeout=30)
    assert replay.returncode == 0, err
    second = _outcome(out)
    assert second["replayed"] is True
    assert second["result"] == first["result"] == {"project_id": "p-" + entry.idempotency_key[-6:]}
    assert len(backend.read_text().split()) == 2  # nothing sent the third time


@pytest.mark.parametrize("round_no", range(3))
def test_two_processes_resuming_one_run_one_proceeds(
    store: MemoryStore, tmp_path: Path, spawn: Spawn, wait_for: WaitFor, round_no: int
) -> None:
    run = store.create_run(platform="run402", api_base="http://x")
    go, stop = tmp_path / "go", tmp_path / "stop"
    outs = [tmp_path / f"out{n}" for n in (1, 2)]
    children = [
        spawn(LEASE, store.path, run.run_id, f"cli{n}", out, go, stop, 300)
        for n, out in zip((1, 2), outs, strict=True)
    ]
    go.touch()
    answers = sorted(wait_for(out).split()[0] for out in outs)
    stop.touch()
    for child in children:
        assert child.wait(timeout=30) == 0, child.stderr.read() if child.stderr else ""
    assert answers == ["acquired", "busy"]
    assert store.get_run(run.run_id).lease_owner is None  # the winner released it


def test_the_lease_of_a_killed_process_is_taken_over(
    store: MemoryStore, run_id: RunId, tmp_path: Path, spawn: Spawn, wait_for: WaitFor
) -> None:
    go = tmp_path / "go"
    go.touch()
    holder = spawn(LEASE, store.path, run_id, "cli", tmp_path / "out", go, tmp_path / "stop", 300)
    assert wait_for(tmp_path / "out") == "acquired"
    with pytest.raises(RunBusy) as caught:
        store.acquire_run(run_id, "resumer")
    assert caught.value.pid == holder.pid
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    store.acquire_run(run_id, "resumer")  # dead pid: the lease is free
    assert store.get_run(run_id).lease_owner == "resumer"


def test_the_expired_lease_of_a_live_process_is_taken_over(
    store: MemoryStore, run_id: RunId, tmp_path: Path, spawn: Spawn, wait_for: WaitFor
) -> None:
    go = tmp_path / "go"
    go.touch()
    holder = spawn(LEASE, store.path, run_id, "cli", tmp_path / "out", go, tmp_path / "stop", 0.5)
    assert wait_for(tmp_path / "out") == "acquired"
    with pytest.raises(RunBusy):
        store.acquire_run(run_id, "resumer")
    time.sleep(0.6)
    store.acquire_run(run_id, "resumer")
    assert holder.poll() is None  # alive, but it stopped renewing
    assert store.get_run(run_id).lease_owner == "resumer"


OPEN = """
import sys
from pathlib import Path
from appwright.memory import MemoryStore
MemoryStore(Path(sys.argv[1])).close()
"""


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path, spawn: Spawn) -> None:
    path = tmp_path / "fresh.db"
    children = [spawn(OPEN, path) for _ in range(4)]
    for child in children:
        _out, err = child.communicate(timeout=30)
        assert child.returncode == 0, err
    with MemoryStore(path) as store:
        assert store.list_runs() == []
