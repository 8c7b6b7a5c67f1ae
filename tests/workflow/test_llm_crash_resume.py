"""The LLM agent killed with -9 mid-step, resumed: no model call and no tool call is made twice.

A driver process (`llm_driver.py`) builds the todo app with the scripted model and the
mistakes script (a refused plan, SQL the gate refuses, a refused output), and kills
itself at a fault point: after a paid call reached the backend but before the journal
recorded it, after a seed insert, and after a model turn was recorded but before its
tool call ran. The test resumes the run in its own process with a new model: the
conversation is replayed from the journal, and the model calls of both processes,
counted in one file, hold each (step, turn) once. The sandbox's ledger shows each
charge once, and the seed rows are there once.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from buildkit import PAID, Kit
from llm_script import BAD_SQL, ScriptedModel, scripted_agent, todo_script, turns_of

from appwright.memory import MemoryStore, RunId
from appwright.workflow.runner import Runner

DRIVER = Path(__file__).with_name("llm_driver.py")
JOURNAL_RECORDS = {"model", "complete_step", "tool_failed"}
"""The agent's own records in the journal; every other entry is an action."""


@pytest.mark.timeout(300)
@pytest.mark.parametrize("fault", [
    "after_call:provision:create_project",
    "after_call:seed:insert_rows",
    "after_model:create_tables:4",
])
def test_killed_mid_step_and_resumed_repeats_nothing(api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      fault: str) -> None:
    kit = Kit(root=tmp_path, api=api)
    run_id, counter, db = kit.new_run_id(), tmp_path / "model-calls.txt", tmp_path / "appwright.db"
    env = kit.env(fault)
    killed = subprocess.run(
        [sys.executable, str(DRIVER), str(db), api, run_id, str(counter), "--mistakes"],
        env=env, capture_output=True, text=True, timeout=180, cwd=DRIVER.parent,
    )
    assert killed.returncode == -9, f"the driver did not die at {fault}:\n{killed.stdout}\n{killed.stderr}"

    monkeypatch.setenv("APPWRIGHT_WALLET", str(kit.wallet_file))
    model = ScriptedModel(script=todo_script(mistakes=True), counter=counter)
    with MemoryStore(db) as store:
        runner = Runner(store=store, say=lambda text: None, make_agent=lambda s: scripted_agent(model))
        outcome = runner.run(RunId(run_id))
        journal = store.journal(RunId(run_id))
        facts = store.all_facts(RunId(run_id), redact=False)
        payments = store.payments(RunId(run_id))
    assert outcome.run.status == "done", outcome

    # Every model turn was asked for once, across both processes.
    calls = Counter(counter.read_text().splitlines())
    assert [c for c, n in calls.items() if n > 1] == []
    assert sum(calls.values()) == turns_of(todo_script(mistakes=True))
    assert model.calls, "the resume made no live model call: the fault point came too late"

    # Every tool call was sent once; only the one killed in flight was resent (same key), and the
    # call whose refusal the model had seen was not resent.
    actions = [e for e in journal if e.action not in JOURNAL_RECORDS]
    resent = [(e.step_id, e.action) for e in actions if e.attempts > 1]
    expected = [tuple(fault.split(":")[1:])] if fault.startswith("after_call:") else []
    assert resent == expected, resent
    (bad,) = [e for e in actions if e.args.get("sql") == BAD_SQL]
    assert (str(bad.status), bad.attempts) == ("failed", 1)

    # The sandbox charged each paid action once, and the store's ledger says the same.
    assert kit.charges() == sorted(PAID.values())
    assert [e["kind"] for e in kit.history()].count("faucet") == 1
    assert sorted((p.action, p.amount_micros) for p in payments) == sorted(PAID.items())
    assert len(kit.rest_rows("todos", facts["service_key"])) == 6
