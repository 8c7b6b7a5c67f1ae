"""The desk's verbs drive a whole build for an outside agent, with the engine's guarantees."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from appwright.memory import EventKind, MemoryStore
from appwright.workflow.blueprint import load_blueprint
from appwright.workflow.desk import Desk, DeskError
from appwright.workflow.runner import RunSettings

from buildkit import fetch_site
from outside_script import drive


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
