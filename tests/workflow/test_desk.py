"""The desk's verbs drive a whole build for an outside agent, with the engine's guarantees."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from appwright.memory import EventKind, MemoryStore, RunBusy
from appwright.workflow.blueprint import load_blueprint
from appwright.workflow.blueprint_agent import plan_from_blueprint
from appwright.workflow.desk import Desk, DeskError
from appwright.workflow.runner import RunSettings

from buildkit import fetch_site
from outside_script import STEP_OUTPUTS, drive


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    monkeypatch.setenv("APPWRIGHT_WALLET", str(tmp_path / "wallet.json"))
    desk = Desk(store=MemoryStore(tmp_path / "appwright.db"), sandbox_dir=tmp_path / "sandbox")
    yield desk
    desk.close()


def test_an_outside_agent_builds_the_todo_app_through_the_verbs(desk: Desk, api: str) -> None:
    view = desk.start(RunSettings(blueprint="todo", api=api))
    run_id = view["run_id"]
    assert view["status"] == "acting" and view["step"]["id"] == "plan"
    assert "## What to do" in view["card"] and view["context"]["request"]["spec"]["name"] == "todo"

    done = drive(desk, run_id, load_blueprint("todo"))

    assert done["status"] == "done"
    log = desk.log(run_id)
    assert [s["step"] for s in log["steps"]] == [
        "plan", "provision", "create_tables", "seed", "rls", "site", "deploy", "subdomain", "feedback"]
    assert all(s["status"] == "done" for s in log["steps"])
    amounts = sorted(p.amount_micros for p in desk.store.payments(run_id))
    assert amounts == [10_000, 50_000, 100_000]


def test_a_wrong_output_is_refused_with_what_is_wrong_and_the_step_stays(desk: Desk, api: str) -> None:
    run_id = desk.start(RunSettings(blueprint="todo", api=api))["run_id"]
    desk.act(run_id, "ask_user", {"question": "Build it?"})
    desk.answer(run_id, "yes")

    refused = desk.submit(run_id, {"app": {"name": "x"}, "table_plan": []})

    assert refused["ok"] is False and "rls_plan" in refused["error"]
    assert refused["status"] == "acting" and refused["step"]["id"] == "plan"
    kinds = [e.kind for e in desk.store.events(run_id, "plan")]
    assert EventKind.VALIDATION_FAILED in kinds and EventKind.STEP_FINISHED not in kinds


def test_verbs_refuse_what_cannot_be_done_and_say_why(desk: Desk, api: str) -> None:
    run_id = desk.start(RunSettings(blueprint="todo", api=api))["run_id"]
    with pytest.raises(DeskError, match="no action 'deploy_site'; its actions are"):
        desk.act(run_id, "deploy_site", {})
    with pytest.raises(DeskError, match="not waiting for an answer"):
        desk.answer(run_id, "yes")
    with pytest.raises(DeskError, match="unknown run|no run"):
        desk.current("nope")
    desk.act(run_id, "ask_user", {"question": "Build it?"})
    with pytest.raises(DeskError, match="waits for the user's answer"):
        desk.act(run_id, "ask_user", {"question": "Something else?"})


def test_an_outside_agents_change_request_loops_back_to_site(desk: Desk, api: str) -> None:
    bp = load_blueprint("todo")
    run_id = desk.start(RunSettings(blueprint="todo", api=api))["run_id"]
    drive(desk, run_id, bp, until="feedback")
    desk.act(run_id, "send_feedback", {"message": "call it Our Todos"})

    again = desk.submit(run_id, {"feedback": "call it Our Todos", "change_request": "title: Our Todos",
                                 "feedback_sent": True})

    assert again["ok"] and again["step"]["instance"] == "site~2"
    assert again["context"]["change_request"] == "title: Our Todos"
    files = [dict(f) for f in again["context"]["site_plan"]]
    files[0]["data"] = files[0]["data"].replace("<body", '<body data-title="Our Todos"', 1)
    desk.act(run_id, "write_site", {"files": files})
    assert desk.submit(run_id, {"site_files": files})["step"]["instance"] == "deploy~2"
    done = drive(desk, run_id, bp)
    assert done["status"] == "done"
    steps = [s["step"] for s in desk.log(run_id)["steps"]]
    assert steps[-4:] == ["site~2", "deploy~2", "subdomain~2", "feedback~2"]
    assert 'data-title="Our Todos"' in fetch_site(done["app_url"]).text


def test_an_outside_agent_never_sees_a_key_and_hands_them_in_as_tokens(desk: Desk, api: str) -> None:
    bp = load_blueprint("todo")
    run_id = desk.start(RunSettings(blueprint="todo", api=api))["run_id"]
    drive(desk, run_id, bp, until="provision")
    wallet = desk.act(run_id, "ensure_wallet", {})["result"]
    desk.act(run_id, "fund_wallet", {})
    project = desk.act(run_id, "create_project", {})["result"]
    assert project["service_key"] == "secret:service_key" and project["anon_key"] == "secret:anon_key"

    keys = ("project_id", "anon_key", "service_key", "schema_slot", "lease_expires_at")
    view = desk.submit(run_id, {**{k: project[k] for k in keys}, "wallet_address": wallet["address"]})

    assert view["ok"] and view["step"]["id"] == "create_tables", view.get("error")
    facts = desk.store.all_facts(run_id, redact=False)
    assert facts["service_key"].startswith("eyJ") and facts["anon_key"].startswith("eyJ")
    shown = json.dumps([view, desk.log(run_id), drive(desk, run_id, bp, until="site")])
    assert facts["service_key"] not in shown and facts["anon_key"] not in shown


def _step_events(desk: Desk, run_id: str, step: str) -> list[EventKind]:
    return [e.kind for e in desk.store.events(run_id, step)]


def test_a_retried_submit_naming_a_finished_step_moves_on_with_a_note_and_leaves_the_next_step_alone(
    desk: Desk, api: str,
) -> None:
    bp = load_blueprint("todo")
    run_id = desk.start(RunSettings(blueprint="todo", api=api))["run_id"]
    drive(desk, run_id, bp, until="provision")

    again = desk.submit(run_id, plan_from_blueprint(bp), step="plan")

    assert again["ok"] and again["step"]["instance"] == "provision" and again["told_user"] == []
    assert again["note"] == ("step plan was already finished (its output was committed by an earlier submit); "
                             "this output was not used")
    assert EventKind.VALIDATION_FAILED not in _step_events(desk, run_id, "provision")
    assert _step_events(desk, run_id, "plan").count(EventKind.STEP_FINISHED) == 1


def test_a_submit_naming_a_step_the_run_has_not_reached_is_refused(desk: Desk, api: str) -> None:
    run_id = desk.start(RunSettings(blueprint="todo", api=api))["run_id"]

    with pytest.raises(DeskError, match=r"^this output is for step deploy, but the run is at step plan; "
                                        r"see that step with: appwright step "):
        desk.submit(run_id, {"deployment_id": "x", "site_url": "y"}, step="deploy")

    assert _step_events(desk, run_id, "deploy") == []
    assert EventKind.VALIDATION_FAILED not in _step_events(desk, run_id, "plan")


def test_the_last_submit_retried_after_the_run_is_done_shows_the_done_run(desk: Desk, api: str) -> None:
    bp = load_blueprint("todo")
    run_id = desk.start(RunSettings(blueprint="todo", api=api))["run_id"]
    assert drive(desk, run_id, bp)["status"] == "done"

    again = desk.submit(run_id, {"feedback": "fine", "feedback_sent": True}, step="feedback")

    assert again["ok"] and again["status"] == "done" and "step feedback was already finished" in again["note"]
    with pytest.raises(DeskError, match="is done; nothing to act on"):  # without a step: as before
        desk.submit(run_id, {"feedback": "fine", "feedback_sent": True})


def test_two_desks_racing_to_submit_one_step_commit_it_once(tmp_path: Path, api: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPWRIGHT_WALLET", str(tmp_path / "wallet.json"))
    bp = load_blueprint("todo")
    desks = [Desk(store=MemoryStore(tmp_path / "appwright.db"), sandbox_dir=tmp_path / "sandbox", owner=f"desk-{i}")
             for i in range(2)]
    run_id = desks[0].start(RunSettings(blueprint="todo", api=api))["run_id"]
    drive(desks[0], run_id, bp, until="plan")
    output = STEP_OUTPUTS["plan"](desks[0], run_id, desks[0].current(run_id), bp)

    def submit(desk: Desk) -> str:
        try:
            view = desk.submit(run_id, output, step="plan")
        except RunBusy:  # the other desk holds the run: exit 3 on the CLI
            return "busy"
        assert view["ok"] and view["step"]["instance"] == "provision", view
        return "ok, not used" if "note" in view else "ok"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(submit, desks))
    for desk in desks:
        desk.close()

    assert outcomes in (["busy", "ok"], ["ok", "ok, not used"])
    store = MemoryStore(tmp_path / "appwright.db")
    assert [e.kind for e in store.events(run_id, "plan")].count(EventKind.STEP_FINISHED) == 1
    assert EventKind.VALIDATION_FAILED not in [e.kind for e in store.events(run_id, "provision")]
