"""How an outside agent's calls are numbered, and so which Idempotency-Key each goes out with."""

from __future__ import annotations

from pathlib import Path

import pytest

from appwright.memory import MemoryStore, StepId
from appwright.steps import STEPS, ActionFailed
from appwright.workflow.backend import RunBackend
from appwright.workflow.session import StepSession

DEPLOY = next(s for s in STEPS if s.id == "deploy")
FN = {"name": "summary"}


@pytest.fixture
def session(tmp_path: Path) -> StepSession:
    store = MemoryStore(tmp_path / "appwright.db")
    run = store.create_run(platform="run402", api_base="http://127.0.0.1:9")
    return StepSession(store=store, run_id=run.run_id, step=DEPLOY, instance=StepId("deploy"),
                       backend=RunBackend(api="http://127.0.0.1:9"), context={}, asker=lambda q, n: "")


def _record(session: StepSession, call_no: int, name: str, args: dict, outcome: str) -> None:
    entry = session.store.journal_begin(session.run_id, session.instance, call_no, name, args)
    if outcome == "finished":
        session.store.journal_finish(entry, {"ok": True})
    elif outcome == "failed":
        session.store.journal_fail(entry, "ReadTimeout: the answer was lost")


def _next_number(session: StepSession, name: str, args: dict) -> int:
    session.continue_numbering(name, args)
    return session._calls + 1


def test_a_new_call_comes_after_those_on_record(session: StepSession) -> None:
    assert _next_number(session, "deploy_site", {}) == 1
    _record(session, 1, "deploy_function", FN, "finished")
    assert _next_number(session, "deploy_site", {}) == 2


def test_a_failed_paid_call_goes_out_again_under_its_first_number_after_other_calls(session: StepSession) -> None:
    _record(session, 1, "deploy_site", {}, "failed")  # its answer lost: it may have been paid
    _record(session, 2, "deploy_function", FN, "finished")

    assert _next_number(session, "deploy_site", {}) == 1
    key = session.store.call_key(session.run_id, session.instance, 1)
    assert session.store.journal(session.run_id, session.instance)[0].idempotency_key == key


def test_a_failed_free_call_followed_by_others_is_a_new_call(session: StepSession) -> None:
    _record(session, 1, "deploy_function", FN, "failed")
    _record(session, 2, "deploy_site", {}, "finished")
    assert _next_number(session, "deploy_function", FN) == 3


def test_a_call_whose_outcome_is_unknown_must_be_sent_again_first(session: StepSession) -> None:
    _record(session, 1, "deploy_site", {}, "started")  # the process died mid-call
    with pytest.raises(ActionFailed, match="never finished and may have reached the backend"):
        session.continue_numbering("deploy_function", FN)
    assert _next_number(session, "deploy_site", {}) == 1
