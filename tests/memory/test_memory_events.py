"""The step log: append-only, redacted, summarised per step; its size per event."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from appwright.memory import REDACTED, EventKind, MemoryStore, RunId, StepId, StepStatus

PLAN, PROVISION, SEED = StepId("plan"), StepId("provision"), StepId("seed")


def test_events_are_redacted_before_they_are_written(store: MemoryStore, run_id: RunId) -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZSJ9.c2lnbmF0dXJl"
    event = store.log_event(
        run_id,
        PROVISION,
        EventKind.ACTION,
        {
            "action": "create_project",
            "result": {"project_id": "p1", "service_key": jwt},
            "note": f"key is {jwt}",
        },
        duration_ms=12,
    )
    expected = {
        "action": "create_project",
        "result": {"project_id": "p1", "service_key": REDACTED},
        "note": f"key is {REDACTED}",
    }
    assert event.data == expected
    with sqlite3.connect(store.path) as conn:
        stored = conn.execute("SELECT data FROM aw_events").fetchall()
    assert jwt not in str(stored)
    assert store.events(run_id) == [event]


def test_events_are_read_back_in_order_and_by_step(store: MemoryStore, run_id: RunId) -> None:
    store.log_event(run_id, PLAN, "step_started")
    store.log_event(run_id, PLAN, "question", {"text": "What should the app be called?"})
    store.log_event(run_id, PROVISION, "step_started")
    store.log_event(run_id, PLAN, "answer", {"text": "Todo"})
    assert [e.kind for e in store.events(run_id)] == [
        EventKind.STEP_STARTED,
        EventKind.QUESTION,
        EventKind.STEP_STARTED,
        EventKind.ANSWER,
    ]
    assert [e.data.get("text") for e in store.events(run_id, PLAN)] == [
        None,
        "What should the app be called?",
        "Todo",
    ]
    ids = [e.event_id for e in store.events(run_id)]
    assert ids == sorted(ids)


def test_an_unknown_kind_is_refused(store: MemoryStore, run_id: RunId) -> None:
    with pytest.raises(ValueError, match="unknown event kind 'thought'; known kinds: step_started"):
        store.log_event(run_id, PLAN, "thought")


def test_the_log_is_append_only(store: MemoryStore, run_id: RunId) -> None:
    store.log_event(run_id, PLAN, "step_started")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), store.atomic() as db:
        db.execute("UPDATE aw_events SET kind = 'skipped'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), store.atomic() as db:
        db.execute("DELETE FROM aw_events")
    assert [e.kind for e in store.events(run_id)] == [EventKind.STEP_STARTED]


def test_step_summaries(store: MemoryStore, run_id: RunId) -> None:
    log = store.log_event
    log(run_id, PLAN, "step_started")
    log(run_id, PLAN, "question", {"text": "Name?"})
    log(run_id, PLAN, "answer", {"text": "Todo"})
    log(run_id, PLAN, "user_message", {"text": "Here is the plan."})
    log(run_id, PLAN, "step_finished", duration_ms=1500)
    log(run_id, PROVISION, "step_started")
    log(run_id, PROVISION, "action", {"action": "create_project"}, duration_ms=40)
    log(run_id, PROVISION, "payment", {"amount": "0.10"}, cost_micros=100_000)
    log(run_id, PROVISION, "error", {"message": "connection reset"})
    log(run_id, PROVISION, "step_started")  # resumed
    log(run_id, PROVISION, "payment", {"amount": "0.05"}, cost_micros=50_000)
    log(run_id, PROVISION, "user_message", {"text": "Your backend is ready."})
    log(run_id, PROVISION, "step_finished")
    log(run_id, SEED, "step_started")
    log(run_id, SEED, "validation_failed", {"errors": ["rows must be a list"]})
    plan, provision, seed = store.step_summaries(run_id)

    assert (plan.step_id, plan.status, plan.attempts, plan.duration_ms) == (
        PLAN,
        StepStatus.DONE,
        1,
        1500,
    )
    assert plan.user_message == "Here is the plan."
    assert plan.started_at is not None and plan.finished_at is not None
    assert plan.started_at < plan.finished_at

    assert (provision.status, provision.attempts, provision.cost_micros) == (
        StepStatus.DONE,
        2,
        150_000,
    )
    assert provision.user_message == "Your backend is ready."
    assert provision.duration_ms is not None and provision.duration_ms >= 0

    assert (seed.status, seed.finished_at, seed.duration_ms, seed.user_message) == (
        StepStatus.RUNNING,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("kinds", "status"),
    [
        (["step_started", "question"], StepStatus.WAITING),
        (["step_started", "question", "answer"], StepStatus.RUNNING),
        (["step_started", "error"], StepStatus.FAILED),
        (["step_started", "error", "action"], StepStatus.RUNNING),
        (["skipped"], StepStatus.SKIPPED),
        (["step_started", "step_finished", "user_message"], StepStatus.DONE),
        (["step_started", "step_finished", "step_started"], StepStatus.RUNNING),
    ],
)
def test_a_step_s_status_follows_its_events(
    store: MemoryStore, run_id: RunId, kinds: list[str], status: StepStatus
) -> None:
    for kind in kinds:
        store.log_event(run_id, SEED, kind)
    [summary] = store.step_summaries(run_id)
    assert summary.status is status


def test_bytes_per_event_after_1000_events(store_path: Path) -> None:
    """Measured, not asserted: the report quotes this number."""
    with MemoryStore(store_path) as store:
        run = store.create_run(platform="run402", api_base="http://127.0.0.1:4020")
        before = _file_size(store_path)
        started = time.perf_counter()
        for i in range(1000):
            store.log_event(
                run.run_id,
                StepId("create_tables"),
                EventKind.ACTION,
                {
                    "action": "run_sql",
                    "call_no": i,
                    "status": 200,
                    "args": {"sql": "CREATE TABLE todos (id uuid PRIMARY KEY, task text NOT NULL)"},
                },
                duration_ms=23,
            )
        elapsed = time.perf_counter() - started
        after = _file_size(store_path)
    per_event = (after - before) / 1000
    print(
        f"\nstep log: {per_event:.0f} bytes/event after 1,000 events "
        f"({elapsed / 1000 * 1e3:.2f} ms/event, synchronous=FULL)"
    )
    assert 0 < per_event < 2000


def _file_size(path: Path) -> int:
    # Fold the WAL into the file first, so the file's size is the data's.
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size
