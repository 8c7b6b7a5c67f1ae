"""LangGraph's SqliteSaver and the memory store share one file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TypedDict

from appwright.memory import MemoryDirective, MemoryStore, RunId, StepId, journaled
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph


class State(TypedDict):
    """A tiny graph state: no log in it, the log is the store's."""

    project_id: str
    tables: list[str]


def _graph(store: MemoryStore, run_id: RunId, saver: SqliteSaver) -> CompiledStateGraph[State]:
    def provision(state: State) -> dict[str, object]:
        step = StepId("provision")
        store.log_event(run_id, step, "step_started")
        entry = journaled(
            store,
            run_id,
            step,
            1,
            "create_project",
            {"tier": "prototype"},
            lambda key: {"project_id": "p0001", "service_key": "sk"},
        )
        assert entry.result is not None
        store.apply_directive(
            run_id,
            step,
            MemoryDirective(store=frozenset({"project_id", "service_key"})),
            entry.result,
        )
        store.log_event(run_id, step, "step_finished")
        return {"project_id": entry.result["project_id"]}

    def create_tables(state: State) -> dict[str, object]:
        step = StepId("create_tables")
        facts = store.get_facts(run_id, ["project_id", "service_key"])
        entry = journaled(
            store,
            run_id,
            step,
            1,
            "run_sql",
            {"project": facts["project_id"]},
            lambda key: {"status": "ok"},
        )
        store.log_event(run_id, step, "step_finished", {"status": entry.result})
        return {"tables": ["todos"]}

    return (
        StateGraph(State)
        .add_node("provision", provision)
        .add_node("create_tables", create_tables)
        .add_edge(START, "provision")
        .add_edge("provision", "create_tables")
        .add_edge("create_tables", END)
        .compile(checkpointer=saver)
    )


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }


def test_a_graph_checkpoints_into_the_store_file(store: MemoryStore, run_id: RunId) -> None:
    conn = sqlite3.connect(store.path, check_same_thread=False)
    try:
        graph = _graph(store, run_id, SqliteSaver(conn))
        config: RunnableConfig = {"configurable": {"thread_id": run_id}}
        out = graph.invoke(State(project_id="", tables=[]), config, durability="sync")
        assert out == {"project_id": "p0001", "tables": ["todos"]}
        assert graph.get_state(config).next == ()
        checkpoints = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
        assert checkpoints >= 3
    finally:
        conn.close()

    assert {"checkpoints", "writes", "aw_runs", "aw_journal"} <= _tables(store.path)
    assert [e.step_id for e in store.events(run_id)] == ["provision", "provision", "create_tables"]
    assert len(store.journal(run_id)) == 2
    store.put_facts(run_id, StepId("seed"), {"rows": 3})
    with MemoryStore(store.path) as reopened:  # LangGraph's tables are expected company
        assert reopened.all_facts(run_id)["rows"] == 3


def test_the_saver_may_create_the_file_first(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with SqliteSaver.from_conn_string(str(path)) as saver:
        saver.setup()
    with MemoryStore(path) as store:
        run = store.create_run(platform="run402", api_base="http://x")
        conn = sqlite3.connect(path, check_same_thread=False)
        try:
            graph = _graph(store, run.run_id, SqliteSaver(conn))
            config: RunnableConfig = {"configurable": {"thread_id": run.run_id}}
            graph.invoke(State(project_id="", tables=[]), config, durability="sync")
            # Run again on the same thread: every journaled call is replayed, not sent.
            graph.invoke(State(project_id="", tables=[]), config, durability="sync")
        finally:
            conn.close()
        assert all(entry.attempts == 1 for entry in store.journal(run.run_id))
        assert store.get_facts(run.run_id, ["project_id"]) == {"project_id": "p0001"}
