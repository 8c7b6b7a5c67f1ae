"""The engine: runs one step of a run, with every guarantee the route promises.

For each step it hands the agent exactly the step's context, logs the card it
showed, lets the agent act through a `StepSession`, and when the output is valid
and verified applies the step's memory directive and tells the user. A step that
already finished (a resume after a crash between the store's commit and the
graph's checkpoint) is not run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from appwright.memory import EventKind, MemoryStore, RunId, StepId
from appwright.steps import STEPS, Backend, Step, for_platform, skip_reason

from . import faults
from .session import Asker, StepSession

__all__ = ["Agent", "Engine", "RunPaused", "StepIncomplete", "step_finished", "step_instance"]


class StepIncomplete(RuntimeError):
    """The agent ended a step without an accepted output; the run stops, resumable."""


class RunPaused(Exception):
    """The agent stops the run where it stands, resumable; the message says why."""

    status: str = "stopped"
    """The run's status while it is paused (a `RunStatus` value)."""


class Agent(Protocol):
    """Completes one step through its session."""

    async def complete(self, session: StepSession) -> None:
        """Call actions, ask if needed, and submit until the output is accepted."""
        ...

    def answer(self, step: Step, question: str) -> str | None:
        """An answer this agent can give without the user, or None to ask the user."""
        ...


# Which step stores each key: a missing key's error names the step that should have run.
_PRODUCERS: dict[str, StepId] = {key: step.id for step in STEPS for key in step.memory.store}


_DONE = frozenset({EventKind.STEP_FINISHED, EventKind.SKIPPED})
"""Events after which a step is not run again."""


def step_finished(store: MemoryStore, run_id: RunId, instance: StepId) -> bool:
    """Whether the step log says this step of the run already finished (or was skipped)."""
    return any(e.kind in _DONE for e in store.events(run_id, instance))


def step_instance(step: Step, iteration: int) -> StepId:
    """The step's id in a pass: `site` first, `site~2` after one feedback loop."""
    return step.id if iteration == 0 else StepId(f"{step.id}~{iteration + 1}")


@dataclass(kw_only=True)
class Engine:
    """Runs the steps of one run."""

    store: MemoryStore
    """The memory store: facts, step log, journal, payments."""
    run_id: RunId
    """The run."""
    backend: Backend
    """The platform this run builds on."""
    agent: Agent
    """Who completes the steps."""
    interrupt: Callable[[dict[str, Any]], Any]
    """How to wait for the user's answer (LangGraph's `interrupt`)."""
    say: Callable[[str], None]
    """Shows a message to the user."""

    async def run_step(self, step: Step, iteration: int = 0) -> None:
        """Run a step to an accepted, committed output (or raise)."""
        instance = step_instance(step, iteration)
        seen = {e.kind for e in self.store.events(self.run_id, instance)}  # read once per entry
        if seen & _DONE:
            return
        why = skip_reason(step, self.backend.platform)
        if why is not None:
            self._skip(step, instance, why)
            return
        step = for_platform(step, self.backend.platform)  # e.g. AltaTech's own create_tables
        faults.point(f"step_start:{instance}")
        started = time.monotonic()
        with self.store.atomic():  # one commit (one fsync) for the step's opening
            self.store.set_run_status(self.run_id, "running", current_step=instance)
            shown = EventKind.PROMPT_SHOWN in seen
            opened = {"title": step.title, "resumed": True} if shown else {"title": step.title}
            self.store.log_event(self.run_id, instance, EventKind.STEP_STARTED, opened)
            session = self.session(step, instance)
            if not shown:  # the card is the same every time the step is entered
                self.store.log_event(self.run_id, instance, EventKind.PROMPT_SHOWN, {"card": session.card})
        await self.agent.complete(session)
        if session.output is None:
            raise StepIncomplete(f"step {instance} ended without an accepted output")
        self._commit(step, instance, session, started)
        faults.point(f"step_end:{instance}")

    def finished(self, instance: StepId) -> bool:
        """Whether the step log says this step already finished (or was skipped)."""
        return step_finished(self.store, self.run_id, instance)

    def _skip(self, step: Step, instance: StepId, why: str) -> None:
        """Log a step the platform has no counterpart for as skipped, and tell the user why."""
        message = f"Skipped “{step.title}”: {why}."
        with self.store.atomic():
            self.store.log_event(self.run_id, instance, EventKind.STEP_STARTED, {"title": step.title})
            self.store.log_event(self.run_id, instance, EventKind.SKIPPED,
                                 {"platform": self.backend.platform, "reason": why})
            self.store.log_event(self.run_id, instance, EventKind.USER_MESSAGE, {"text": message})
        self.say(message)

    def session(self, step: Step, instance: StepId) -> StepSession:
        """A session of the step in this pass, with exactly its context."""
        context = self.store.get_facts(self.run_id, step.context, producers=_PRODUCERS)
        context.update(self._optional(step))
        return StepSession(
            store=self.store, run_id=self.run_id, step=step, instance=instance,
            backend=self.backend, context=context, asker=self._asker(step, instance),
        )

    def _optional(self, step: Step) -> dict[str, Any]:
        if not step.optional_context:
            return {}
        known = self.store.all_facts(self.run_id, redact=False)
        return {k: known[k] for k in step.optional_context if known.get(k) is not None}

    def _commit(self, step: Step, instance: StepId, session: StepSession, started: float) -> None:
        assert session.output is not None
        output = session.output.model_dump(mode="json")
        message = step.message(session.output)
        with self.store.atomic():
            self.store.apply_directive(self.run_id, instance, step.memory, output)
            self.store.log_event(self.run_id, instance, EventKind.USER_MESSAGE, {"text": message})
            self.store.log_event(
                self.run_id, instance, EventKind.STEP_FINISHED, {"output": output},
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        self.say(message)

    def _asker(self, step: Step, instance: StepId) -> Asker:
        def ask(question: str, number: int) -> str:
            kept = self._kept_answer(instance, number)
            if kept is not None:
                return kept
            if not self._asked(instance, number):  # a resumed step asks the same question again
                self.store.log_event(self.run_id, instance, EventKind.QUESTION, {"n": number, "question": question})
            answer = self.agent.answer(step, question)
            if answer is None:
                self.store.set_run_status(self.run_id, "waiting", current_step=instance)
                answer = str(self.interrupt({"step": instance, "n": number, "question": question}))
            self.store.log_event(self.run_id, instance, EventKind.ANSWER, {"n": number, "answer": answer})
            return answer

        return ask

    def _asked(self, instance: StepId, number: int) -> bool:
        return any(
            e.kind == EventKind.QUESTION and e.data.get("n") == number for e in self.store.events(self.run_id, instance)
        )

    def _kept_answer(self, instance: StepId, number: int) -> str | None:
        for event in self.store.events(self.run_id, instance):
            if event.kind == EventKind.ANSWER and event.data.get("n") == number:
                return str(event.data.get("answer"))
        return None
