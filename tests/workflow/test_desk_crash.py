"""An outside agent's verbs killed mid-call or mid-submit, then driven on: exactly one of everything.

Each case drives the todo build through real `appwright start | act | submit` processes
against the session sandbox, kills one of them with APPWRIGHT_FAULT (see
`appwright.workflow.faults`), and goes on the way an agent would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from buildkit import PAID, Kit

from appwright.memory import RunId
from appwright.workflow.blueprint import load_blueprint
from appwright.workflow.blueprint_agent import plan_from_blueprint


def _ok(kit: Kit, *args: str, fault: str | None = None) -> dict:
    done = kit.run(*args, fault=fault)
    assert done.returncode == 0, done.output
    return json.loads(done.stdout)


def _to_provision(kit: Kit) -> str:
    run_id = kit.new_run_id()
    begun = kit.run("start", "--blueprint", "todo", "--run-id", run_id, "--api", kit.api)
    assert begun.returncode == 0, begun.output
    _ok(kit, "act", run_id, "ask_user", '{"question": "Build it?"}')
    assert kit.run("answer", run_id, "yes").returncode == 0
    plan = kit.root / "plan.json"
    plan.write_text(json.dumps(plan_from_blueprint(load_blueprint("todo"))))
    view = _ok(kit, "submit", run_id, f"@{plan}")
    assert view["step"]["id"] == "provision", view
    _ok(kit, "act", run_id, "ensure_wallet")
    _ok(kit, "act", run_id, "fund_wallet")
    return run_id


def _provision_output(project: dict, wallet: dict) -> dict:
    keys = ("project_id", "anon_key", "service_key", "schema_slot", "lease_expires_at")
    return {**{k: project[k] for k in keys}, "wallet_address": wallet["address"]}


@pytest.mark.timeout(300)
def test_an_act_killed_after_the_backend_answered_is_sent_again_and_paid_once(tmp_path: Path, api: str) -> None:
    kit = Kit(root=tmp_path, api=api)
    run_id = _to_provision(kit)

    killed = kit.run("act", run_id, "create_project", fault="after_call:provision:create_project")
    assert killed.returncode == -9, killed.output
    other = kit.run("act", run_id, "ensure_wallet")
    assert other.returncode == 2 and "send that call again first" in other.stderr, other.output

    project = _ok(kit, "act", run_id, "create_project")["result"]

    assert kit.charges() == [PAID["create_project"]]
    assert [(p.action, p.amount_micros) for p in kit.payments(run_id)] == [("create_project", PAID["create_project"])]
    assert kit.facts(run_id).get("project_id") is None and project["project_id"].startswith("prj_")


@pytest.mark.timeout(300)
def test_a_submit_killed_after_the_commit_shows_the_next_step_and_pays_nothing_twice(tmp_path: Path, api: str) -> None:
    kit = Kit(root=tmp_path, api=api)
    run_id = _to_provision(kit)
    wallet = _ok(kit, "act", run_id, "ensure_wallet")["result"]
    project = _ok(kit, "act", run_id, "create_project")["result"]
    output = kit.root / "provision.json"
    output.write_text(json.dumps(_provision_output(project, wallet)))

    killed = kit.run("submit", run_id, f"@{output}", fault="step_end:provision")
    assert killed.returncode == -9, killed.output

    # The step was committed: the agent is shown the next one, and cannot pay for the old one again.
    view = _ok(kit, "step", run_id, "--json")
    assert view["step"]["instance"] == "create_tables" and view["status"] == "acting", view
    again = kit.run("act", run_id, "create_project")
    assert again.returncode == 2, again.output
    assert kit.charges() == [PAID["create_project"]]
    with kit.store() as store:
        assert store.get_run(RunId(run_id)).current_step == "create_tables"


@pytest.mark.timeout(300)
def test_a_submit_killed_after_the_commit_then_submitted_again_moves_on(tmp_path: Path, api: str) -> None:
    kit = Kit(root=tmp_path, api=api)
    run_id = _to_provision(kit)
    wallet = _ok(kit, "act", run_id, "ensure_wallet")["result"]
    project = _ok(kit, "act", run_id, "create_project")["result"]
    output = kit.root / "provision.json"
    output.write_text(json.dumps(_provision_output(project, wallet)))
    assert kit.run("submit", run_id, f"@{output}", fault="step_end:provision").returncode == -9

    view = _ok(kit, "submit", run_id, f"@{output}")

    assert view["ok"] and view["step"]["instance"] == "create_tables", view
    assert view["note"].startswith("step provision was already finished"), view
    assert kit.charges() == [PAID["create_project"]]


@pytest.mark.timeout(300)
def test_a_verb_on_a_run_another_process_holds_exits_3(tmp_path: Path, api: str) -> None:
    kit = Kit(root=tmp_path, api=api)
    run_id = kit.new_run_id()
    assert kit.run("start", "--blueprint", "todo", "--run-id", run_id, "--api", kit.api).returncode == 0

    with kit.store() as store, store.hold_run(RunId(run_id), "another-agent"):
        acted = kit.run("act", run_id, "ask_user", '{"question": "Build it?"}')
        submitted = kit.run("submit", run_id, "{}")
    _ok(kit, "act", run_id, "ask_user", '{"question": "Build it?"}')
    with kit.store() as store, store.hold_run(RunId(run_id), "another-agent"):
        answered = kit.run("answer", run_id, "yes")

    for done in (acted, submitted, answered):
        assert done.returncode == 3, done.output
        assert "Traceback" not in done.stderr and run_id in done.stderr, done.output
    with kit.store() as store:
        assert store.get_run(RunId(run_id)).status == "waiting"
