"""Starting, resuming and answering runs: the engine, the graph and the store together.

A run is a LangGraph thread whose id is the run id. Starting one records its
settings in the memory store; resuming one rebuilds the same engine from them and
lets the graph continue from its last checkpoint. Only one process works on a run
at a time: a second one is told the run is busy.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langgraph.errors import GraphInterrupt
from langgraph.types import Command, interrupt

from appwright.memory import MemoryStore, Run, RunId, StepId
from appwright.platforms.x402pay import Budget
from appwright.steps import STEPS, Step

from .backend import RunBackend
from .blueprint import load_blueprint
from .blueprint_agent import BlueprintAgent
from .engine import Agent, Engine, RunPaused, step_instance
from .graph import build_graph, open_checkpointer
from .settings import SETTINGS_KEY, AgentKind, RunSettings, SettingsError, load_settings

__all__ = ["RunSettings", "Outcome", "Runner", "SETTINGS_KEY", "AgentKind", "SettingsError"]

@dataclass(frozen=True, kw_only=True)
class Outcome:
    """Where a run stands after the runner returns."""

    run: Run
    """The run, as stored."""
    question: dict[str, Any] | None = None
    """The question the run waits on, if it waits."""
    paused: str | None = None
    """Why the agent paused the run (an outside agent's turn, a turn budget spent), if it did."""


Reporter = Callable[[str, Step, StepId], None]
"""Told of a step's progress: (event "start" | "done" | "skip", step, instance)."""


@dataclass(kw_only=True)
class Runner:
    """Runs one run of one store."""

    store: MemoryStore
    """The memory store."""
    say: Callable[[str], None] = print
    """Shows what to tell the user."""
    report: Reporter = field(default=lambda event, step, instance: None)
    """Progress of steps."""
    owner: str = field(default_factory=lambda: f"appwright-{os.getpid()}")
    """The lease owner label of this process."""
    make_agent: Callable[[RunSettings], Agent] = field(default=lambda settings: default_agent(settings))
    """Who completes the steps of a run (by default the agent its settings name)."""

    def create(self, settings: RunSettings, *, run_id: str | None = None) -> Run:
        """Record a new run and its settings."""
        settings.check()
        # A bad blueprint is refused before anything is recorded.
        bp = load_blueprint(settings.blueprint) if settings.blueprint else None
        run = self.store.create_run(
            platform=settings.platform, api_base=settings.api, blueprint=settings.blueprint,
            idea=settings.idea or "", run_id=RunId(run_id) if run_id else None,
        )
        request: dict[str, Any] = {"blueprint": settings.blueprint, "idea": settings.idea}
        if bp is not None and settings.agent != "blueprint":  # an agent that plans reads the spec
            request["spec"] = bp.model_dump(mode="json")
        self.store.put_facts(run.run_id, StepId("start"), {SETTINGS_KEY: settings.as_fact(), "request": request}, set())
        return run

    def settings(self, run_id: RunId) -> RunSettings:
        """The settings a run was started with."""
        return load_settings(self.store, run_id)

    def run(self, run_id: RunId, *, answer: str | None = None, api: str | None = None) -> Outcome:
        """Start or continue the run until it finishes, fails, or waits for the user."""
        with self.store.hold_run(run_id, self.owner):
            return self._run(run_id, answer=answer, api=api)

    def _run(self, run_id: RunId, *, answer: str | None, api: str | None) -> Outcome:
        settings = self.settings(run_id)
        loop = asyncio.new_event_loop()
        backend = RunBackend(api=api or settings.api, platform=settings.platform, tier=settings.tier,
                             network=settings.network, budget=self._budget(run_id, settings))
        engine = Engine(store=self.store, run_id=run_id, backend=backend, interrupt=interrupt, say=self.say,
                        agent=self.make_agent(settings))
        graph = build_graph(self._node_runner(engine, loop), open_checkpointer(str(self.store.path)))
        config = {"configurable": {"thread_id": run_id}}
        try:
            graph.invoke(self._input(graph, config, answer), config, durability="sync")
            return self._settle(graph, config, run_id)
        except RunPaused as paused:
            run = self.store.set_run_status(run_id, paused.status, error=None if paused.status == "acting" else str(paused))
            return Outcome(run=run, paused=str(paused))
        except BaseException as error:
            if not isinstance(error, (KeyboardInterrupt, GraphInterrupt)):
                self.store.set_run_status(run_id, "failed", error=f"{type(error).__name__}: {error}")
            raise
        finally:
            loop.run_until_complete(backend.aclose())
            loop.close()

    def _budget(self, run_id: RunId, settings: RunSettings) -> Budget:
        spent = self.store.total_spent(run_id)
        return Budget(limit_micros=max(0, settings.budget_micros - spent))

    def _input(self, graph: Any, config: dict[str, Any], answer: str | None) -> Any:
        state = graph.get_state(config)
        if answer is not None:
            return Command(resume=answer)
        if state.next:
            return None  # continue from the last checkpoint
        return {"iteration": 0}

    def _node_runner(self, engine: Engine, loop: asyncio.AbstractEventLoop) -> Callable[[Step, int], bool]:
        def run_node(step: Step, iteration: int) -> bool:
            instance = step_instance(step, iteration)
            done = engine.finished(instance)
            self.report("skip" if done else "start", step, instance)
            loop.run_until_complete(engine.run_step(step, iteration))
            if not done:
                self.report("done", step, instance)
            return step is STEPS[-1] and bool(self.store.all_facts(engine.run_id, redact=False).get("change_request"))

        return run_node

    def _settle(self, graph: Any, config: dict[str, Any], run_id: RunId) -> Outcome:
        state = graph.get_state(config)
        pending = [i.value for t in state.tasks for i in t.interrupts]
        if pending:
            run = self.store.set_run_status(run_id, "waiting")
            return Outcome(run=run, question=pending[0])
        if state.next:
            run = self.store.set_run_status(run_id, "stopped")
            return Outcome(run=run)
        return Outcome(run=self.store.set_run_status(run_id, "done"))


def default_agent(settings: RunSettings) -> Agent:
    """The agent a run's settings name."""
    if settings.agent == "llm":
        from .llm_agent import llm_agent  # langchain's providers load only for LLM runs

        return llm_agent(settings)
    if settings.agent == "outside":
        from .outside import OutsideAgent

        return OutsideAgent()
    return blueprint_agent(settings)


def blueprint_agent(settings: RunSettings) -> BlueprintAgent:
    """The blueprint agent for a run's blueprint."""
    assert settings.blueprint, "checked by RunSettings.check"
    return BlueprintAgent(blueprint=load_blueprint(settings.blueprint), yes=settings.yes)
