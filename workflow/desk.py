"""The desk: the verbs an outside agent drives a run with, one call at a time.

`start` a build, read the `current` step (its rendered card, context, actions and
the output it expects), `act` (call one of the step's actions), `submit` the step's
output, `answer` the user's reply to a question, read the `log`. The MCP server and
the shell verbs (`appwright step | act | submit`) are thin skins over these; every
verb returns JSON-able data, holds the run's lease while it works, and turns every
refusal into a `DeskError` that says what was wrong and what to do instead.

The guarantees are the engine's own: actions go through the step's journaled session
(a call that never finished is sent again under its Idempotency-Key), and an output
is validated, verified and committed by the engine on the graph's route.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appwright.memory import EventKind, MemoryStore, Run, RunBusy, RunId, StepId, UnknownRun, redact_text
from appwright.steps import STEPS, ActionFailed, Step

from .engine import Engine, step_finished
from .llm_tools import ASK_USER, Secrets, shown_context
from .outside import OutsideAgent
from .run_log import run_log
from .settings import RunSettings, SettingsError, load_settings

if TYPE_CHECKING:  # LangGraph and the paying client load only for the verbs that use them
    from .backend import RunBackend
    from .runner import Runner

__all__ = ["Desk", "DeskError", "run_log", "ASK_USER"]


class DeskError(ValueError):
    """A verb was refused; the message says what was wrong and how to go on."""


@dataclass(kw_only=True)
class Desk:
    """The verbs, over one memory store."""

    store: MemoryStore
    """The memory store of the runs."""
    sandbox_dir: Path
    """Where an embedded sandbox keeps its data (runs started without an API base)."""
    owner: str = field(default_factory=lambda: f"appwright-desk-{os.getpid()}")
    """The lease owner label of this process."""
    _sandbox: Any = field(default=None, init=False, repr=False)
    _sandbox_api: str = field(default="", init=False, repr=False)

    def start(self, settings: RunSettings, *, run_id: str | None = None) -> dict[str, Any]:
        """Record a run driven by an outside agent, enter its first step, and show it."""
        settings = _outside(settings)
        if settings.embedded:
            settings = _replace(settings, api=self._embedded_api(None))
        runner = self._runner()
        try:
            run = runner.create(settings, run_id=run_id)
        except (SettingsError, ValueError) as error:
            raise DeskError(str(error)) from None
        return self._drive(runner, run.run_id, settings)

    def current(self, run_id: str) -> dict[str, Any]:
        """Where the run stands: the current step's card, context, actions and output schema."""
        run, settings = self._run(run_id)
        run = self._catch_up(run, settings)
        if run.status == "done":
            return _done(self.store, run)
        step, instance = _locate(run)
        session = self._engine(run, settings, self._backend(settings, run)).session(step, instance)
        questions = _questions(self.store, run.run_id, instance)
        return {
            "run_id": run.run_id, "status": str(run.status), "run_error": run.error,
            "step": {"number": step.number, "of": len(STEPS), "id": step.id, "instance": instance,
                     "title": step.title, "phase": step.phase},
            "card": session.card,
            "context": shown_context(step, session.context),
            "actions": _actions(step),
            "output_schema": step.output.model_json_schema(),
            "calls": _calls(self.store, run.run_id, instance),
            "questions": questions,
            "next": _next(run, _pending(questions)),
        }

    def act(self, run_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Call one of the current step's actions (or ask_user); its result."""
        run, settings = self._run(run_id, acting=True)
        if self._finished(run):  # a submit committed it, then died before the graph moved on
            finished = run.current_step
            run = self._catch_up(run, settings)
            raise DeskError(f"step {finished} is already finished (its output was committed); the run is now "
                            f"{'done' if run.status == 'done' else f'at step {run.current_step}'}: "
                            f"see it with: appwright step {run.run_id}")
        with self._hold(run_id):
            run, settings = self._run(run_id, acting=True)
            step, instance = _locate(run)
            if name == ASK_USER:
                return self._ask(run, step, instance, args)
            if name not in {a.name for a in step.actions}:
                raise DeskError(f"step {step.id} has no action {name!r}; its actions are: {_names(step)}")
            return self._call(run, settings, step, instance, name, args)

    def submit(self, run_id: str, output: dict[str, Any], *, step: str | None = None) -> dict[str, Any]:
        """Hand in the current step's output; the engine checks and commits it, and moves on.

        `step` names the step instance the output is for (as the view's `step.instance` shows
        it). A submit retried after its answer was lost then gets the next step, with a note
        that this step was already finished, rather than its output checked against the next
        step; an output for a step the run has not reached is refused.
        """
        run, settings = self._run(run_id)
        current, instance = _locate(run)
        if step is not None and (step != instance or run.status == "done"):
            return self._elsewhere(run, StepId(step))
        _check_acting(run, settings)
        agent = OutsideAgent(submitted={instance: self._secrets(run, current, instance).fill(output)})
        told: list[str] = []
        self._advance(self._runner(agent, told), run.run_id, settings)
        if instance in agent.submitted:  # never offered: an earlier submit had committed the step
            return self._already_finished(run.run_id, instance)
        if agent.refusal is not None:
            return {**self.current(run_id), "ok": False, "error": redact_text(agent.refusal)}
        return {**self.current(run_id), "ok": True, "told_user": told}

    def answer(self, run_id: str, text: str) -> dict[str, Any]:
        """Give the user's answer to the question the run waits on."""
        run, settings = self._run(run_id)
        if run.status != "waiting":
            raise DeskError(f"run {run_id} is not waiting for an answer (it is {run.status})")
        if settings.agent != "outside":
            return self._drive(self._runner(), run.run_id, settings, answer=text)
        with self._hold(run_id):
            instance = StepId(run.current_step or "plan")
            question = _pending(_questions(self.store, run.run_id, instance))
            with self.store.atomic():
                if question is not None:
                    self.store.log_event(run.run_id, instance, EventKind.ANSWER, {"n": question[0], "answer": text})
                self.store.set_run_status(run.run_id, "acting")
        return self.current(run_id)

    def log(self, run_id: str) -> dict[str, Any]:
        """The step log: each step's status, duration, cost, message and output."""
        run, _ = self._run(run_id)
        return run_log(self.store, run)

    def close(self) -> None:
        """Stop the embedded sandbox if this desk started one."""
        if self._sandbox is not None:
            self._sandbox.stop()
            self._sandbox = None

    # -- the verbs' parts -------------------------------------------------------------

    def _call(
        self, run: Run, settings: RunSettings, step: Step, instance: StepId, name: str, args: dict[str, Any],
    ) -> dict[str, Any]:
        loop = asyncio.new_event_loop()
        backend = self._backend(settings, run)
        try:
            session = self._engine(run, settings, backend).session(step, instance)
            session.continue_numbering(name, args)
            result = loop.run_until_complete(session.call(name, args))
        except ActionFailed as refused:
            raise DeskError(str(refused)) from None
        except Exception as error:  # the backend's answer, said plainly; the journal has it
            raise DeskError(redact_text(f"{name} failed: {type(error).__name__}: {error}")) from None
        finally:
            loop.run_until_complete(backend.aclose())
            loop.close()
        return {"action": name, "result": self._secrets(run, step, instance).hide(result)}

    def _secrets(self, run: Run, step: Step, instance: StepId) -> Secrets:
        """The step's secrets as `secret:NAME` tokens: from its context and its calls' results.

        An outside agent is shown the tokens, never the keys, and writes a token where a key
        belongs in the output; the engine swaps the value back in when the output is handed in.
        """
        secrets = Secrets(keys=step.secret_keys)
        facts = self.store.all_facts(run.run_id, redact=False)
        secrets.remember({k: facts[k] for k in step.secret_keys if k in facts})
        for entry in self.store.journal(run.run_id, instance):
            if entry.done:
                secrets.hide(entry.result or {})
        return secrets

    def _ask(self, run: Run, step: Step, instance: StepId, args: dict[str, Any]) -> dict[str, Any]:
        question = str(args.get("question") or "").strip()
        if not step.asks_user:
            raise DeskError(f"step {step.id} does not ask the user; its actions are: {_names(step)}")
        if not question:
            raise DeskError('ask_user needs {"question": "..."}')
        questions = _questions(self.store, run.run_id, instance)
        for asked in questions:
            if asked["question"] == question and asked["answer"] is not None:
                return {"action": ASK_USER, "result": {"question": question, "answer": asked["answer"]}}
        if _pending(questions) is None:
            number = len(questions) + 1
            with self.store.atomic():
                self.store.log_event(run.run_id, instance, EventKind.QUESTION, {"n": number, "question": question})
                self.store.set_run_status(run.run_id, "waiting")
        return {"action": ASK_USER, "result": {"question": question, "answer": None,
                "next": f"ask the user; give their reply with: appwright answer {run.run_id} TEXT (MCP: answer)"}}

    def _drive(self, runner: Runner, run_id: RunId, settings: RunSettings, answer: str | None = None) -> dict[str, Any]:
        self._advance(runner, run_id, settings, answer)
        return self.current(run_id)

    def _advance(self, runner: Runner, run_id: RunId, settings: RunSettings, answer: str | None = None) -> None:
        """Let the graph take the run on until it waits, pauses or ends."""
        api = self._embedded_api(settings.api) if settings.embedded else None
        try:
            runner.run(run_id, answer=answer, api=api)
        except RunBusy:  # not a failure of the run: another process holds it (exit 3 on the CLI)
            raise
        except Exception as error:
            raise DeskError(redact_text(f"the run stopped: {error}; fix the cause and submit again")) from None

    def _elsewhere(self, run: Run, meant: StepId) -> dict[str, Any]:
        """The answer to an output for step `meant` while the run is not at it."""
        if step_finished(self.store, run.run_id, meant):
            return self._already_finished(run.run_id, meant)
        where = "the run is done" if run.status == "done" else f"the run is at step {run.current_step}"
        raise DeskError(f"this output is for step {meant}, but {where}; "
                        f"see that step with: appwright step {run.run_id}")

    def _already_finished(self, run_id: RunId, step: StepId) -> dict[str, Any]:
        """A retried submit: the step was committed before, so the run has moved on without this output."""
        note = (f"step {step} was already finished (its output was committed by an earlier submit); "
                "this output was not used")
        return {**self.current(run_id), "ok": True, "told_user": [], "note": note}

    def _finished(self, run: Run) -> bool:
        """Whether the run's current step is already finished while the run has not moved on."""
        if run.status in ("done", "waiting") or run.current_step is None:
            return False
        return step_finished(self.store, run.run_id, StepId(run.current_step))

    def _catch_up(self, run: Run, settings: RunSettings) -> Run:
        """An outside run whose step was committed by a submit that died before the graph moved
        on: take it on to the step that waits (the engine skips the finished one), so that the
        agent is shown that step rather than the finished one again."""
        if settings.agent != "outside" or not self._finished(run):
            return run
        self._advance(self._runner(), run.run_id, settings)
        return self.store.get_run(run.run_id)

    # -- plumbing ---------------------------------------------------------------------

    def _run(self, run_id: str, *, acting: bool = False) -> tuple[Run, RunSettings]:
        try:
            run = self.store.get_run(RunId(run_id))
        except UnknownRun as error:
            raise DeskError(str(error)) from None
        settings = load_settings(self.store, run.run_id)
        if acting:
            _check_acting(run, settings)
        return run, settings

    @contextmanager
    def _hold(self, run_id: str) -> Iterator[None]:
        with self.store.hold_run(RunId(run_id), self.owner):
            yield

    def _runner(self, agent: OutsideAgent | None = None, told: list[str] | None = None) -> Runner:
        from .runner import Runner

        say: Callable[[str], None] = told.append if told is not None else (lambda text: None)
        runner = Runner(store=self.store, say=say, owner=self.owner)
        if agent is not None:
            runner.make_agent = lambda settings: agent
        return runner

    def _engine(self, run: Run, settings: RunSettings, backend: RunBackend) -> Engine:
        return Engine(store=self.store, run_id=run.run_id, backend=backend, agent=OutsideAgent(),
                      interrupt=_no_interrupt, say=lambda text: None)

    def _backend(self, settings: RunSettings, run: Run) -> RunBackend:
        from appwright.platforms.x402pay import Budget

        from .backend import RunBackend

        api = self._embedded_api(settings.api) if settings.embedded else settings.api
        left = max(0, settings.budget_micros - self.store.total_spent(run.run_id))
        return RunBackend(api=api, tier=settings.tier, network=settings.network, budget=Budget(limit_micros=left))

    def _embedded_api(self, url: str | None) -> str:
        if self._sandbox is None:
            from .embedded import EmbeddedSandbox  # the sandbox loads only when a run needs it

            self._sandbox = EmbeddedSandbox(data_dir=self.sandbox_dir, url=url)
            self._sandbox_api = self._sandbox.start()
        return self._sandbox_api


def _outside(settings: RunSettings) -> RunSettings:
    return settings if settings.agent == "outside" else _replace(settings, agent="outside")


def _replace(settings: RunSettings, **changes: Any) -> RunSettings:
    return RunSettings(**{**settings.as_fact(), **changes})


def _check_acting(run: Run, settings: RunSettings) -> None:
    if settings.agent != "outside":
        raise DeskError(f"run {run.run_id} is driven by the {settings.agent} agent, not by an outside agent; "
                        f"continue it with: appwright resume {run.run_id}")
    if run.status == "done":
        raise DeskError(f"run {run.run_id} is done; nothing to act on")
    if run.status == "waiting":
        raise DeskError(f"run {run.run_id} waits for the user's answer; give it with: appwright answer {run.run_id} TEXT")


def _locate(run: Run) -> tuple[Step, StepId]:
    instance = StepId(run.current_step or STEPS[0].id)
    step_id = instance.split("~")[0]
    for step in STEPS:
        if step.id == step_id:
            return step, instance
    raise DeskError(f"run {run.run_id} is at an unknown step {instance!r}")


def _actions(step: Step) -> list[dict[str, Any]]:
    actions = [{"name": a.name, "description": a.description, "paid": a.paid, "args": a.args.model_json_schema()}
               for a in step.actions]
    if step.asks_user:
        actions.append({"name": ASK_USER, "description": "Put a question to the user; the run waits for the answer.",
                        "paid": False, "args": {"type": "object", "properties": {"question": {"type": "string"}},
                                                "required": ["question"]}})
    return actions


def _names(step: Step) -> str:
    return ", ".join(a["name"] for a in _actions(step)) or "none"


def _calls(store: MemoryStore, run_id: RunId, instance: StepId) -> list[dict[str, Any]]:
    return [{"call_no": e.call_no, "action": e.action, "status": str(e.status), "error": e.error}
            for e in store.journal(run_id, instance)]


def _questions(store: MemoryStore, run_id: RunId, instance: StepId) -> list[dict[str, Any]]:
    asked: dict[int, dict[str, Any]] = {}
    for event in store.events(run_id, instance):
        n = event.data.get("n")
        if event.kind == EventKind.QUESTION:
            asked[n] = {"n": n, "question": event.data.get("question"), "answer": None}
        elif event.kind == EventKind.ANSWER and n in asked:
            asked[n]["answer"] = event.data.get("answer")
    return list(asked.values())


def _pending(questions: list[dict[str, Any]]) -> tuple[int, str] | None:
    """The first question still without an answer: (its number, its text)."""
    for asked in questions:
        if asked["answer"] is None:
            return asked["n"], asked["question"]
    return None


def _next(run: Run, question: tuple[int, str] | None) -> str:
    if question is not None:
        return f"the run waits for the user's answer to: {question[1]} — ask them, then answer(run, text)"
    _, step = _locate(run)
    return ("call the step's actions (call_action / appwright act RUN NAME JSON), then hand in its output "
            f"(complete_step with step {step!r} / appwright submit RUN JSON --step {step})")


def _done(store: MemoryStore, run: Run) -> dict[str, Any]:
    facts = store.all_facts(run.run_id, redact=True)
    url = facts.get("app_url") or facts.get("site_url")
    return {"run_id": run.run_id, "status": "done", "app_url": url, "next": f"nothing: the app is live at {url}"}


def _no_interrupt(value: dict[str, Any]) -> Any:
    raise DeskError("an outside agent's step cannot wait inside the engine; use ask_user")
