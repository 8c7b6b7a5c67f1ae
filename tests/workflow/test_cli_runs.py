"""The run commands as a user meets them: resume, answer, runs, log, show, and their refusals.

Every command is a real `appwright` process with its own home and wallet, on the
session sandbox. Refusals must exit non-zero with a message that says what to do,
never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
from buildkit import PAID, Kit, Proc, sandbox_sql

from appwright.memory import RunId
from appwright.platforms.wallet import create_wallet


@dataclass(frozen=True)
class Finished:
    """A todo build that went through."""

    kit: Kit
    run_id: str
    build: Proc


@pytest.fixture(scope="module")
def finished(api: str, tmp_path_factory: pytest.TempPathFactory) -> Finished:
    kit = Kit(root=tmp_path_factory.mktemp("finished"), api=api)
    run_id = kit.new_run_id()
    build = kit.build("todo", run_id=run_id)
    assert build.returncode == 0, build.output
    return Finished(kit, run_id, build)


def refused(proc: Proc) -> str:
    """The refusal's text, after checking it is one: non-zero, said plainly, no traceback."""
    assert proc.returncode != 0, proc.output
    assert "Traceback" not in proc.stdout + proc.stderr, proc.output
    return proc.stdout + proc.stderr


# --- finished runs ------------------------------------------------------------------------


def test_resuming_a_finished_run_is_a_no_op(finished: Finished) -> None:
    kit = finished.kit
    before = kit.history()
    again = kit.resume(finished.run_id)
    assert again.returncode == 0, again.output
    assert "already done" in again.stdout, again.output
    assert kit.facts(finished.run_id)["app_url"] in again.stdout
    assert "…" not in again.stdout  # no step started
    assert kit.history() == before  # nothing charged, nothing done


def test_runs_json_lists_the_run(finished: Finished) -> None:
    listed = finished.kit.run("runs", "--json")
    assert listed.returncode == 0, listed.output
    (row,) = [r for r in json.loads(listed.stdout) if r["run_id"] == finished.run_id]
    assert row["status"] == "done"
    assert row["blueprint"] == "todo"
    assert row["api"] == finished.kit.api
    assert row["spent_usd_micros"] == sum(PAID.values())


def test_log_of_one_step_shows_its_card_actions_and_output(finished: Finished) -> None:
    shown = finished.kit.run("log", finished.run_id, "--step", "create_tables")
    assert shown.returncode == 0, shown.output
    text = shown.stdout
    assert "# Step 3: Create Database Tables" in text  # the card as shown to the agent
    assert "- table_plan:" in text  # ... rendered with the step's context
    assert "service_key: (secret, held by the engine)" in text
    assert '[action] {"action": "run_sql"' in text
    assert '[action] {"action": "get_schema"' in text
    finish = [line for line in text.splitlines() if line.startswith("[step_finished] ")]
    assert len(finish) == 1, text
    output = json.loads(finish[0].removeprefix("[step_finished] "))["output"]
    assert output == {"tables_created": [{"name": "todos", "columns": ["id", "task", "done", "created_at"]}]}
    assert finished.kit.facts(finished.run_id)["service_key"] not in text


def test_log_of_a_step_the_run_does_not_have_is_refused(finished: Finished) -> None:
    text = refused(finished.kit.run("log", finished.run_id, "--step", "nonesuch"))
    assert "no step 'nonesuch'" in text


def test_answer_to_a_run_that_does_not_wait_is_refused(finished: Finished) -> None:
    proc = finished.kit.run("answer", finished.run_id, "yes")
    assert proc.returncode == 2, proc.output
    assert "is not waiting for an answer (it is done)" in refused(proc)


# --- refusals -----------------------------------------------------------------------------


def test_an_unknown_run_is_refused_plainly(tmp_path: Path, api: str) -> None:
    kit = Kit(root=tmp_path, api=api)
    for command in (["resume", "run-nonesuch"], ["log", "run-nonesuch"], ["show", "run-nonesuch"],
                    ["answer", "run-nonesuch", "yes"]):
        text = refused(kit.run(*command))
        assert "no run 'run-nonesuch'" in text and "appwright runs" in text, text


def test_a_corrupt_store_is_refused_plainly(tmp_path: Path, api: str) -> None:
    kit = Kit(root=tmp_path, api=api)
    kit.home.mkdir(parents=True)
    kit.db.write_bytes(b"this is not a database, it is a shopping list\n" * 200)
    for command in (["runs"], ["resume", "run-x"], ["build", "--blueprint", "todo", "--api", api, "--yes"]):
        text = refused(kit.run(*command))
        assert "is not a valid appwright store" in text, text
        assert str(kit.db) in text
    assert not kit.wallet_file.exists()  # nothing was started


def test_a_busy_run_is_refused_until_its_holder_lets_go(tmp_path: Path, api: str) -> None:
    kit = Kit(root=tmp_path, api=api)
    run_id = kit.new_run_id()
    crashed = kit.build("todo", run_id=run_id, fault="step_start:seed")
    assert crashed.returncode == -9, crashed.output
    with kit.store() as store:
        store.acquire_run(RunId(run_id), "test-holder")
        try:
            busy = kit.resume(run_id)
        finally:
            store.release_run(RunId(run_id), "test-holder")
        assert busy.returncode == 3, busy.output
        assert f"run '{run_id}' is busy" in refused(busy)
        assert "test-holder" in busy.stderr
        assert store.get_run(RunId(run_id)).status != "done"
    resumed = kit.resume(run_id)
    assert resumed.returncode == 0, resumed.output
    assert kit.charges() == sorted(PAID.values())


def _todo_json() -> dict[str, Any]:
    """The bundled todo blueprint with its site files inlined (so it can live anywhere)."""
    folder = resources.files("appwright.workflow").joinpath("blueprints")
    data = json.loads(folder.joinpath("todo.json").read_text())
    for entry in data["site"]:
        source = entry.pop("source", None)
        if source is not None:
            entry["data"] = folder.joinpath(source).read_text()
    return data


def test_an_invalid_blueprint_is_refused_naming_the_field(tmp_path: Path, api: str) -> None:
    kit = Kit(root=tmp_path, api=api)
    bad = _todo_json()
    bad["tables"][0]["columns"].append("colour")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    proc = kit.build(str(path))
    assert proc.returncode == 2, proc.output
    text = refused(proc)
    assert "tables[0].columns" in text and "colour" in text, text

    missing = kit.build(str(tmp_path / "nope.json"))
    assert missing.returncode == 2, missing.output
    assert "nope.json" in refused(missing) and "no such file" in missing.stderr

    with kit.store() as store:
        assert store.list_runs() == []  # refused before anything was recorded


def test_an_unknown_tier_is_refused(tmp_path: Path, api: str) -> None:
    kit = Kit(root=tmp_path, api=api)
    proc = kit.build("todo", "--tier", "bogus")
    assert proc.returncode == 2, proc.output
    assert "unknown tier 'bogus'" in refused(proc)


def test_a_run_id_that_is_taken_is_refused_plainly(finished: Finished) -> None:
    proc = finished.kit.build("todo", run_id=finished.run_id)
    text = refused(proc)
    assert f"a run '{finished.run_id}' already exists" in text, text


# --- a run that waits for the user ---------------------------------------------------------


def test_a_run_waits_for_the_user_and_goes_on_when_answered(tmp_path: Path, api: str) -> None:
    kit = Kit(root=tmp_path, api=api)
    blueprint = _todo_json()
    del blueprint["answers"]["plan"]
    path = tmp_path / "ask-me.json"
    path.write_text(json.dumps(blueprint, indent=2))
    run_id = kit.new_run_id()

    waiting = kit.build(str(path), run_id=run_id, yes=False)  # stdin is not a terminal
    assert waiting.returncode == 0, waiting.output
    assert f"run {run_id} waits for your answer: Build “Shared Todo”" in waiting.stdout, waiting.output
    assert f"appwright answer {run_id}" in waiting.stdout
    with kit.store() as store:
        assert store.get_run(RunId(run_id)).status == "waiting"
        assert store.payments(RunId(run_id)) == []
    assert not kit.wallet_file.exists()  # nothing provisioned before the plan is confirmed

    answered = kit.run("answer", run_id, "yes")
    assert answered.returncode == 0, answered.output
    app_url = kit.facts(run_id)["app_url"]
    assert answered.stdout.rstrip().endswith(app_url), answered.output
    assert kit.charges() == sorted(PAID.values())

    shown = kit.run("log", run_id, "--step", "plan", "--json")
    assert shown.returncode == 0, shown.output
    events = json.loads(shown.stdout)
    questions = [e["data"] for e in events if e["kind"] == "question"]
    answers = [e["data"] for e in events if e["kind"] == "answer"]
    assert answers == [{"n": 1, "answer": "yes"}], events
    assert len(questions) == 1 and questions[0]["n"] == 1, questions
    assert "Shared Todo" in questions[0]["question"]
    assert [e["kind"] for e in events].count("step_finished") == 1


# --- run ids are the user's: they must not make two runs one ------------------------------


def test_a_run_id_reused_in_another_home_gets_its_own_project(tmp_path: Path, api: str, pg_dsn: str) -> None:
    """Idempotency keys come from the run (and its call numbers); a run id is the user's choice.

    Two homes, one wallet (the default wallet is shared by every home), the same
    --run-id: the second run is a new app and must pay for its own project, not get
    the first run's project replayed from the sandbox's idempotency store.
    """
    shared = tmp_path / "wallet.json"
    first = Kit(root=tmp_path / "first", api=api, wallet_path=shared)
    second = Kit(root=tmp_path / "second", api=api, wallet_path=shared)
    first.root.mkdir()
    second.root.mkdir()
    # A wallet rich enough for two builds, so neither run calls the faucet and both
    # make the same calls with the same numbers: only the run tells their keys apart.
    wallet = create_wallet(shared)
    assert httpx.post(f"{api}/v1/faucet", json={"address": wallet.address}, timeout=30).status_code == 200
    sandbox_sql(pg_dsn, "UPDATE sandbox.accounts SET balance_micros = 1000000 WHERE wallet = $1",
                wallet.address.lower())

    crashed = first.build("todo", run_id="my-app", fault="step_end:provision")
    assert crashed.returncode == -9, crashed.output
    other = second.build("notes", run_id="my-app")
    assert other.returncode == 0, other.output

    first_project = first.facts("my-app")["project_id"]
    second_project = second.facts("my-app")["project_id"]
    assert second_project != first_project, "the notes run was handed the todo run's project"
    charges = [e for e in first.history() if e["kind"] == "charge"]
    assert sorted(-e["amount_usd_micros"] for e in charges) == sorted([PAID["create_project"], *PAID.values()])
    # Each run's ledger holds its own transactions, and the sandbox charged every one of them.
    first_tx = {p.receipt["transaction"] for p in first.payments("my-app")}
    second_tx = {p.receipt["transaction"] for p in second.payments("my-app")}
    assert len(first_tx) == 1 and len(second_tx) == 3 and not first_tx & second_tx
    assert first_tx | second_tx == {e["tx"] for e in charges}
