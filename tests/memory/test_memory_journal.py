"""The action journal and `journaled`: each call is executed at most once."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from appwright.memory import (
    IdempotencyKey,
    JournalError,
    JournalMismatch,
    JournalStatus,
    MemoryStore,
    RunId,
    StepId,
    UnknownRun,
    idempotency_key,
    journaled,
    journaled_async,
)

STEP = StepId("create_tables")
SQL = {"sql": "CREATE TABLE todos (id uuid PRIMARY KEY DEFAULT gen_random_uuid())"}


class Backend:
    """Counts what reaches it; answers a repeated idempotency key from its cache."""

    def __init__(self) -> None:
        self.keys: list[IdempotencyKey] = []
        self.charges = 0

    def run_sql(self, key: IdempotencyKey) -> dict[str, Any]:
        if key not in self.keys:
            self.charges += 1
        self.keys.append(key)
        return {"status": "ok", "schema": "p0001", "rowCount": 0}


def test_a_new_call_is_started(store: MemoryStore, run_id: RunId) -> None:
    entry = store.journal_begin(run_id, STEP, 1, "run_sql", SQL)
    assert entry.status is JournalStatus.STARTED
    assert (entry.attempts, entry.resumed, entry.replayed, entry.done) == (1, False, False, False)
    assert entry.idempotency_key == store.call_key(run_id, STEP, 1)
    assert entry.args == SQL


def test_a_finished_call_is_replayed_not_executed(store: MemoryStore, run_id: RunId) -> None:
    backend = Backend()
    first = journaled(store, run_id, STEP, 1, "run_sql", SQL, backend.run_sql)
    second = journaled(store, run_id, STEP, 1, "run_sql", SQL, backend.run_sql)
    assert len(backend.keys) == 1
    assert (first.replayed, second.replayed) == (False, True)
    assert second.result == first.result == {"status": "ok", "schema": "p0001", "rowCount": 0}
    begun = store.journal_begin(run_id, STEP, 1, "run_sql", SQL)
    assert begun.done and begun.result == first.result


def test_an_unfinished_call_resumes_with_the_same_key(store: MemoryStore, run_id: RunId) -> None:
    first = store.journal_begin(run_id, STEP, 1, "run_sql", SQL)
    # ... the process dies here; on resume the node runs again from its first line:
    again = store.journal_begin(run_id, STEP, 1, "run_sql", SQL)
    assert again.resumed and not again.done
    assert again.idempotency_key == first.idempotency_key
    assert again.attempts == 2
    finished = store.journal_finish(again, {"status": "ok"})
    assert finished.done and finished.result == {"status": "ok"}
    assert finished.finished_at is not None


def test_a_different_call_under_a_recorded_number_is_a_mismatch(
    store: MemoryStore, run_id: RunId
) -> None:
    store.journal_begin(run_id, STEP, 1, "run_sql", {"sql": "SELECT 1", "service_key": "sk-1"})
    with pytest.raises(
        JournalMismatch, match=r"call #1 was recorded as run_sql\(.*\) but is now"
    ) as caught:
        store.journal_begin(run_id, STEP, 1, "run_sql", {"sql": "SELECT 2", "service_key": "sk-1"})
    assert "sk-1" not in str(caught.value)  # arguments are redacted in the message
    with pytest.raises(JournalMismatch, match="is now get_schema"):
        store.journal_begin(
            run_id, STEP, 1, "get_schema", {"sql": "SELECT 1", "service_key": "sk-1"}
        )


def test_arguments_compare_by_value_not_by_key_order(store: MemoryStore, run_id: RunId) -> None:
    store.journal_begin(run_id, STEP, 1, "run_sql", {"a": 1, "b": [1, 2]})
    assert store.journal_begin(run_id, STEP, 1, "run_sql", {"b": [1, 2], "a": 1}).resumed


def test_a_failed_call_is_retried_with_the_same_key(store: MemoryStore, run_id: RunId) -> None:
    calls: list[IdempotencyKey] = []

    def flaky(key: IdempotencyKey) -> Mapping[str, Any]:
        calls.append(key)
        if len(calls) == 1:
            raise ConnectionError("connection reset by peer")
        return {"status": "ok"}

    with pytest.raises(ConnectionError):
        journaled(store, run_id, STEP, 1, "run_sql", SQL, flaky)
    [failed] = store.journal(run_id)
    assert failed.status is JournalStatus.FAILED
    assert failed.error == "ConnectionError: connection reset by peer"
    entry = journaled(store, run_id, STEP, 1, "run_sql", SQL, flaky)
    assert entry.done and entry.attempts == 2
    assert calls[0] == calls[1]


def test_an_interrupted_call_stays_started(store: MemoryStore, run_id: RunId) -> None:
    def interrupted(key: IdempotencyKey) -> Mapping[str, Any]:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        journaled(store, run_id, STEP, 1, "run_sql", SQL, interrupted)
    [entry] = store.journal(run_id)
    assert entry.status is JournalStatus.STARTED


async def test_journaled_async(store: MemoryStore, run_id: RunId) -> None:
    sent: list[IdempotencyKey] = []

    async def run_sql(key: IdempotencyKey) -> Mapping[str, Any]:
        await asyncio.sleep(0)
        sent.append(key)
        return {"status": "ok"}

    first = await journaled_async(store, run_id, STEP, 1, "run_sql", SQL, run_sql)
    second = await journaled_async(store, run_id, STEP, 1, "run_sql", SQL, run_sql)
    assert sent == [store.call_key(run_id, STEP, 1)]
    assert (first.replayed, second.replayed, second.result) == (False, True, {"status": "ok"})


async def test_journaled_async_cancelled_stays_started(store: MemoryStore, run_id: RunId) -> None:
    async def slow(key: IdempotencyKey) -> Mapping[str, Any]:
        await asyncio.sleep(10)
        return {}

    task = asyncio.create_task(journaled_async(store, run_id, STEP, 1, "run_sql", SQL, slow))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert store.journal(run_id)[0].status is JournalStatus.STARTED


def test_a_call_is_finished_once(store: MemoryStore, run_id: RunId) -> None:
    entry = store.journal_begin(run_id, STEP, 1, "run_sql", SQL)
    store.journal_finish(entry, {"status": "ok"})
    with pytest.raises(JournalError, match="is finished, not in progress"):
        store.journal_finish(entry, {"status": "other"})
    with pytest.raises(JournalError):
        store.journal_fail(entry, "late failure")


def test_results_keep_their_secrets(store: MemoryStore, run_id: RunId) -> None:
    result = {"project_id": "p1", "service_key": "eyJhbGciOi.eyJyb2xlIjoi.c2ln"}
    journaled(store, run_id, StepId("provision"), 1, "create_project", {}, lambda key: result)
    assert store.journal(run_id)[0].result == result  # a resume needs them


def test_errors_are_redacted(store: MemoryStore, run_id: RunId) -> None:
    entry = store.journal_begin(run_id, STEP, 1, "run_sql", SQL)
    failed = store.journal_fail(entry, "401 with Bearer eyJhbGciOi.eyJyb2xlIjoi.c2ln")
    assert failed.error == "401 with Bearer [redacted]"


def test_results_must_be_json(store: MemoryStore, run_id: RunId) -> None:
    entry = store.journal_begin(run_id, STEP, 1, "run_sql", SQL)
    with pytest.raises(TypeError, match="result of run_sql must be plain JSON"):
        store.journal_finish(entry, {"when": object()})
    assert store.journal(run_id)[0].status is JournalStatus.STARTED


def test_idempotency_keys_are_deterministic_and_distinct() -> None:
    run = RunId("run-1")
    key = idempotency_key(run, STEP, 1)
    assert key == idempotency_key(RunId("run-1"), StepId("create_tables"), 1)
    assert key.startswith("aw-") and len(key) == 35
    others = {
        idempotency_key(run, STEP, 2),
        idempotency_key(RunId("run-2"), STEP, 1),
        idempotency_key(run, StepId("seed"), 1),
        idempotency_key(RunId("a|b"), StepId("c"), 1),
        idempotency_key(RunId("a"), StepId("b|c"), 1),
    }
    assert key not in others and len(others) == 5


def test_the_journal_lists_calls_per_step(store: MemoryStore, run_id: RunId) -> None:
    backend = Backend()
    journaled(store, run_id, STEP, 1, "run_sql", SQL, backend.run_sql)
    journaled(store, run_id, STEP, 2, "get_schema", {}, backend.run_sql)
    journaled(store, run_id, StepId("seed"), 1, "run_sql", {"sql": "INSERT ..."}, backend.run_sql)
    assert [(e.step_id, e.call_no) for e in store.journal(run_id, STEP)] == [(STEP, 1), (STEP, 2)]
    assert len(store.journal(run_id)) == 3
    assert backend.charges == 3


def test_journaling_for_an_unknown_run(store: MemoryStore) -> None:
    with pytest.raises(UnknownRun):
        store.journal_begin(RunId("nope"), STEP, 1, "run_sql", SQL)
