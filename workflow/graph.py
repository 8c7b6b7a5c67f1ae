"""The route as a LangGraph StateGraph: nine nodes, and feedback that may loop to site.

The graph's state is tiny on purpose (which pass of the feedback loop this is, and
whether to go round again): facts, the step log and the journal live in the memory
store, so checkpoints stay the same size however long the run. The checkpointer is
a SqliteSaver in the store's own file, written before each next step starts
(`durability="sync"`), with the run id as the thread id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypedDict

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

from appwright.steps import STEPS, Step

__all__ = ["BuildState", "build_graph", "open_checkpointer", "MAX_FEEDBACK_LOOPS"]

MAX_FEEDBACK_LOOPS = 3
"""How many times feedback may send the build back to the site step."""


class BuildState(TypedDict, total=False):
    """What the graph carries between nodes."""

    iteration: int
    """The pass of the feedback loop: 0 for the first build."""
    again: bool
    """Set by feedback: the user asked for changes, go back to site."""


NodeRunner = Callable[[Step, int], bool]
"""Runs a step in a pass; returns True when feedback asks to go round again."""


def build_graph(run_node: NodeRunner, checkpointer: SqliteSaver) -> Any:
    """The compiled graph of the nine steps."""
    graph = StateGraph(BuildState)
    for step in STEPS:
        graph.add_node(step.id, _node(step, run_node))
    graph.add_edge(START, STEPS[0].id)
    for before, after in zip(STEPS, STEPS[1:]):
        graph.add_edge(before.id, after.id)
    graph.add_conditional_edges(STEPS[-1].id, _after_feedback, {"site": "site", END: END})
    return graph.compile(checkpointer=checkpointer)


def _node(step: Step, run_node: NodeRunner) -> Callable[[BuildState], BuildState]:
    def node(state: BuildState) -> BuildState:
        iteration = state.get("iteration", 0)
        again = run_node(step, iteration)
        if step is STEPS[-1]:
            go = again and iteration + 1 <= MAX_FEEDBACK_LOOPS
            return {"again": go, "iteration": iteration + 1 if go else iteration}
        return {}

    return node


def _after_feedback(state: BuildState) -> str:
    return "site" if state.get("again") else END


def open_checkpointer(path: str) -> SqliteSaver:
    """A SqliteSaver on the memory store's file."""
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    saver = SqliteSaver(conn)
    saver.setup()
    return saver
