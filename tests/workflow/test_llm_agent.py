"""The LLM agent drives whole builds against the real sandbox, with a scripted fake chat model.

The model is langchain-core's fake chat model answering from a script (`llm_script`);
everything else is real: the engine, the store, the client, the sandbox. The tests
check what the agent promises: tools and their errors reach the model, refused outputs
come back with what is wrong, keys never reach the model, and a turn budget stops the
run resumably.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llm_script import BAD_SQL, ScriptedModel, scripted_agent, todo_script, tool_texts, turns_of

from appwright.memory import EventKind, MemoryStore, RunId
from appwright.workflow.runner import Runner, RunSettings

SETTINGS = {"agent": "llm", "model": "fake:scripted", "blueprint": "todo", "yes": True}
PAID = [10_000, 50_000, 100_000]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MemoryStore:
    monkeypatch.setenv("APPWRIGHT_WALLET", str(tmp_path / "wallet.json"))
    return MemoryStore(tmp_path / "appwright.db")


def test_a_scripted_model_builds_the_todo_app(api: str, store: MemoryStore) -> None:
    model = ScriptedModel(script=todo_script())
    runner = Runner(store=store, say=lambda text: None, make_agent=lambda s: scripted_agent(model))
    run = runner.create(RunSettings(api=api, **SETTINGS))

    outcome = runner.run(run.run_id)

    assert outcome.run.status == "done", outcome
    assert len(model.calls) == turns_of(todo_script()) and len(set(model.calls)) == len(model.calls)
    facts = store.all_facts(run.run_id, redact=False)
    assert facts["app_url"].startswith("http://shared-todo-")
    assert sorted(p.amount_micros for p in store.payments(run.run_id)) == PAID
    # The model was given the step's actions, complete_step, and ask_user where the step asks.
    assert {t["function"]["name"] for t in model.tools} == {"send_feedback", "complete_step", "ask_user"}
    # Keys never reached the model: it saw tokens, and the engine swapped them back.
    shown = json.dumps([[str(m.content) for m in seen] for seen in model.seen])
    assert facts["service_key"] not in shown and facts["anon_key"] not in shown
    assert "secret:service_key" in shown
    # Each live model turn is in the step log, by tool name.
    turns = [e.data for e in store.events(run.run_id, "provision") if e.kind == EventKind.MODEL_TURN]
    assert [t["tool_calls"] for t in turns] == [
        ["quote", "ensure_wallet", "wallet_balance"], ["fund_wallet"], ["create_project"], ["complete_step"],
    ]
    assert turns[0]["text"] == "Checking prices and wallet."


def test_refused_outputs_and_calls_go_back_to_the_model_which_fixes_them(api: str, store: MemoryStore) -> None:
    model = ScriptedModel(script=todo_script(mistakes=True))
    runner = Runner(store=store, say=lambda text: None, make_agent=lambda s: scripted_agent(model))
    run = runner.create(RunSettings(api=api, **SETTINGS))

    outcome = runner.run(run.run_id)

    assert outcome.run.status == "done", outcome
    seen = [text for messages in model.seen for text in tool_texts(messages)]
    # The invalid plan was refused with the plan's own field name, like a bad blueprint.
    assert any("complete_step refused: the plan is not a valid app: table_plan[0].sql: expected exactly one "
               "statement" in t for t in seen), seen
    # SQL the gate refuses came back as the tool's error; it was never sent.
    assert any(t.startswith("run_sql failed:") and "CREATE EXTENSION" in t for t in seen), seen
    # The verify error reached the model word for word.
    assert any("complete_step refused: table 'todoz' does not exist; the schema has: todos" in t for t in seen), seen
    refusals = [e for e in store.events(run.run_id, "create_tables") if e.kind == EventKind.VERIFY_FAILED]
    assert len(refusals) == 1
    assert [e.kind for e in store.events(run.run_id, "plan")].count(EventKind.VALIDATION_FAILED) == 1
    failed = [e for e in store.journal(RunId(run.run_id), "create_tables") if e.args.get("sql") == BAD_SQL]
    assert [str(e.status) for e in failed] == ["failed"]
    assert sorted(p.amount_micros for p in store.payments(run.run_id)) == PAID


def test_a_spent_turn_budget_stops_the_run_resumably(api: str, store: MemoryStore) -> None:
    model = ScriptedModel(script=todo_script())
    runner = Runner(store=store, say=lambda text: None, make_agent=lambda s: scripted_agent(model, max_turns=3))
    run = runner.create(RunSettings(api=api, max_turns=3, **SETTINGS))

    stopped = runner.run(run.run_id)

    # provision takes four turns: the fourth is not made.
    assert stopped.run.status == "stopped" and stopped.run.current_step == "provision"
    assert stopped.paused and "provision used its 3 model turns" in stopped.paused
    assert stopped.run.error == stopped.paused and f"appwright resume {run.run_id}" in stopped.paused
    assert model.calls[-1] == ("provision", 2)

    resumed = runner.run(run.run_id)

    assert resumed.run.status == "done", resumed
    assert len(model.calls) == turns_of(todo_script()) and len(set(model.calls)) == len(model.calls)
    assert sorted(p.amount_micros for p in store.payments(run.run_id)) == PAID
