"""A step session: what an agent holds while it completes one step.

The session is the only door from an agent to the world. Through it the agent
reads the card and the context, calls the step's actions (each journaled, so a
finished call is never made twice and an unfinished one is resent with the same
Idempotency-Key), asks the user, and submits its output, which the engine
validates, verifies against the backend and, when it passes, commits to memory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from appwright.memory import EventKind, IdempotencyKey, JournalEntry, JournalStatus, MemoryStore, RunId, StepId
from appwright.steps import ActionContext, ActionFailed, Backend, Step, VerifyFailed

from . import faults

__all__ = ["StepSession", "Submission", "Asker"]

Asker = Callable[[str, int], str]
"""Asks the user question number n of the step; returns the answer (may interrupt the run)."""


@dataclass(frozen=True, kw_only=True)
class Submission:
    """The engine's verdict on an output."""

    ok: bool
    """Whether the output was valid, verified and committed."""
    error: str | None = None
    """What is wrong, said so that an agent can fix it."""


@dataclass(kw_only=True)
class StepSession:
    """One pass of one step of one run."""

    store: MemoryStore
    """The run's memory."""
    run_id: RunId
    """The run."""
    step: Step
    """The step's declaration."""
    instance: StepId
    """The step's id in this pass (site, then site~2 after a feedback loop)."""
    backend: Backend
    """The platform."""
    context: dict[str, Any]
    """Exactly the memory keys the step declared."""
    asker: Asker
    """How questions reach the user."""
    output: BaseModel | None = field(default=None, init=False)
    """The accepted output, once submitted."""
    _calls: int = field(default=0, init=False, repr=False)
    _questions: int = field(default=0, init=False, repr=False)

    @property
    def card(self) -> str:
        """The step's prompt card, rendered with its context."""
        return self.step.card(self.context)

    def continue_numbering(self, name: str, args: dict[str, Any]) -> None:
        """Number an outside agent's next call (`name` with `args`) after those on record.

        An agent that replays its step from the start (the blueprint agent, the LLM agent)
        numbers from 1 and is answered from the journal. An outside agent makes one call
        per process, so its call comes after the ones on record; the same call as an
        unfinished last one (or as any unfinished paid one) is sent again under that one's
        number, and so with its Idempotency-Key.
        """
        entries = self.store.journal(self.run_id, self.instance)
        last = max(entries, key=lambda e: e.call_no, default=None)
        same = [e for e in entries if not e.done and (e.action, e.args) == (name, args)]
        # A paid call that failed may still have been paid (a lost answer): whatever came
        # after it, the same call goes out again under its first number, so its first key.
        if same and (same[-1] is last or self.step.action(name).paid):
            self._calls = same[-1].call_no - 1
            return
        self._calls = last.call_no if last else 0
        if last is None or last.done:
            return
        if last.status is JournalStatus.STARTED:  # its outcome is unknown: it may have paid
            raise ActionFailed(
                f"call #{last.call_no}, {last.action} {json.dumps(last.args)}, never finished and may have "
                "reached the backend; send that call again first (it is answered without being done twice)"
            )

    async def once(
        self, name: str, args: dict[str, Any], produce: Callable[[], Awaitable[dict[str, Any]]],
    ) -> tuple[dict[str, Any], bool]:
        """Run `produce` once across crashes and resumes (e.g. a model call); (result, replayed).

        It takes the next call number, like an action, so a replayed conversation lines up
        with the journal; a produce that raises is run again on the next attempt.
        """
        self._calls += 1
        entry = self.store.journal_begin(self.run_id, self.instance, self._calls, name, args)
        if entry.done:
            return dict(entry.result or {}), True
        result = await self._send(entry, lambda key: produce())
        self.store.journal_finish(entry, result)
        return result, False

    def recorded_failure(self, name: str, args: dict[str, Any], marker: str) -> dict[str, Any] | None:
        """The recorded outcome of the next call if it failed and the agent already acted on that.

        An agent that shows a failed call's error to a model records so with `once(marker, …)`
        right after the call. Replaying, that call must not be sent again: the model went on
        from the error. When the journal holds `name` with `args` as failed at the next number
        and a finished `marker` after it, both numbers are taken and the marker's result is
        returned; otherwise nothing changes and the call is sent (resent, if it failed).
        """
        entries = {e.call_no: e for e in self.store.journal(self.run_id, self.instance)}
        call, mark = entries.get(self._calls + 1), entries.get(self._calls + 2)
        if call is None or mark is None or (call.action, call.args) != (name, args):
            return None
        if call.status is not JournalStatus.FAILED or mark.action != marker or not mark.done:
            return None
        self._calls += 2
        return dict(mark.result or {})

    async def call(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Call one of the step's actions, exactly once across crashes and resumes."""
        action = self.step.action(name)
        parsed = _parse_args(action.args, args, name)
        self._calls += 1
        call_no = self._calls
        started = time.monotonic()

        async def send(key: IdempotencyKey) -> dict[str, Any]:
            faults.point(f"before_call:{self.instance}:{name}")
            ctx = ActionContext(backend=self.backend, facts=self.context, idempotency_key=key)
            result = await action.run(ctx, parsed)
            faults.point(f"after_call:{self.instance}:{name}")
            return result

        # The begin is its own commit: it must be on disk before the call goes out.
        entry = self.store.journal_begin(self.run_id, self.instance, call_no, name, args)
        result = dict(entry.result or {}) if entry.done else await self._send(entry, send)
        with self.store.atomic():  # the result, its log line and its payment: one commit
            if not entry.done:
                entry = self.store.journal_finish(entry, result)
            self._log_action(name, args, result, call_no, entry.replayed, started)
            if action.paid and not entry.replayed:  # a replayed call's payment was recorded with it
                self._record_payment(name, call_no, result)
        return result

    async def _send(
        self, entry: JournalEntry, send: Callable[[IdempotencyKey], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any]:
        try:
            return await send(entry.idempotency_key)
        except Exception as error:
            self.store.journal_fail(entry, error)  # retried, with the same key, on the next attempt
            raise

    def ask(self, question: str) -> str:
        """Ask the user; the answer is kept, so a resumed step gets the same one."""
        self._questions += 1
        return self.asker(question, self._questions)

    async def submit(self, output: dict[str, Any]) -> Submission:
        """Validate, verify and commit the output; say what is wrong if it is not right."""
        try:
            model = self.step.output.model_validate(output)
        except ValidationError as error:
            return self._refuse(EventKind.VALIDATION_FAILED, _validation_text(error))
        try:
            await self.step.verify(ActionContext(backend=self.backend, facts=self.context), model)
        except VerifyFailed as failed:
            return self._refuse(EventKind.VERIFY_FAILED, str(failed))
        self.output = model
        return Submission(ok=True)

    def _refuse(self, kind: EventKind, message: str) -> Submission:
        self.store.log_event(self.run_id, self.instance, kind, {"error": message})
        return Submission(ok=False, error=message)

    def _log_action(
        self, name: str, args: dict[str, Any], result: dict[str, Any], call_no: int,
        replayed: bool, started: float,
    ) -> None:
        summary = self.step.action(name).summary(result)
        data = {"action": name, "call_no": call_no, "args": args, "summary": summary, "replayed": replayed}
        elapsed = int((time.monotonic() - started) * 1000)
        self.store.log_event(self.run_id, self.instance, EventKind.ACTION, data, duration_ms=elapsed)

    def _record_payment(self, name: str, call_no: int, result: dict[str, Any]) -> None:
        receipt = result.get("receipt") or {}
        amount = receipt.get("amount_micros")
        if not receipt or amount is None:
            return  # nothing was paid (e.g. a free retry answered from the backend's own record)
        self.store.record_payment(self.run_id, self.instance, call_no, name, int(amount), receipt)
        self.store.log_event(
            self.run_id, self.instance, EventKind.PAYMENT,
            {"action": name, "call_no": call_no, "transaction": receipt.get("transaction")},
            cost_micros=int(amount),
        )


def _parse_args(model: type[BaseModel], args: dict[str, Any], name: str) -> BaseModel:
    try:
        return model.model_validate(args)
    except ValidationError as error:
        raise ActionFailed(f"bad arguments for {name}: {_validation_text(error)}") from None


def _validation_text(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(output)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)
