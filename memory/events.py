"""The step log: an append-only record of what happened in each step of a run.

It lives in its own table and never in the graph state: state that grows with every
step makes every checkpoint bigger, and the file grows quadratically. Event data is
redacted before it is written, so the log can be shown and shared as it is.

Conventions for `data`: a `user_message` event carries `{"text": ...}` (what the
user was told); `question`/`answer` carry the text asked and answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from .base import StoreBase
from .encoding import dump_json, load_json, now, parse_time, time_text
from .ids import RunId, StepId
from .redact import redact

__all__ = ["Event", "EventKind", "EventsMixin", "StepStatus", "StepSummary"]


class EventKind(StrEnum):
    """What an event records."""

    STEP_STARTED = "step_started"
    """The engine entered the step (again, on a resume)."""
    STEP_FINISHED = "step_finished"
    """The step's output was validated, verified and its directive applied."""
    PROMPT_SHOWN = "prompt_shown"
    """The step's prompt card was given to the agent."""
    ACTION = "action"
    """The agent called an action (journaled)."""
    PAYMENT = "payment"
    """An action paid (x402); `cost_micros` holds the amount."""
    VALIDATION_FAILED = "validation_failed"
    """The step's output did not match its model."""
    VERIFY_FAILED = "verify_failed"
    """The output did not match what the backend says."""
    USER_MESSAGE = "user_message"
    """What the user was told (`data["text"]`)."""
    QUESTION = "question"
    """A question put to the user; the run waits for the answer."""
    ANSWER = "answer"
    """The user's answer."""
    ERROR = "error"
    """Something went wrong."""
    SKIPPED = "skipped"
    """The step was skipped."""
    MODEL_TURN = "model_turn"
    """An LLM agent's model answered (its text and the tool calls it asked for)."""


class StepStatus(StrEnum):
    """A step's state, as its events tell it."""

    RUNNING = "running"
    WAITING = "waiting"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, kw_only=True)
class Event:
    """One entry of the step log."""

    event_id: int
    """Position in the log; increases with time."""
    run_id: RunId
    """The run."""
    step_id: StepId
    """The step."""
    kind: EventKind
    """What happened."""
    at: datetime
    """When it was logged (UTC)."""
    data: dict[str, Any]
    """Details, redacted."""
    duration_ms: int | None
    """How long it took, when it has a duration."""
    cost_micros: int | None
    """What it cost in millionths of a dollar (USDC micro-units), when it cost something."""


@dataclass(frozen=True, kw_only=True)
class StepSummary:
    """One step of a run, summed up from its events."""

    step_id: StepId
    """The step."""
    status: StepStatus
    """Where it stands."""
    attempts: int
    """How many times it was started (more than 1 after a resume or a retry)."""
    started_at: datetime | None
    """The first `step_started`."""
    finished_at: datetime | None
    """The `step_finished` that completed it, if it did."""
    duration_ms: int | None
    """The finish event's duration, else finish minus the last attempt's start; else `None`."""
    cost_micros: int
    """The sum of its events' costs."""
    user_message: str | None
    """The last thing the user was told in this step."""


# Which status each event kind leaves a step in; kinds not listed leave it running
# unless it already finished or was skipped.
_STATUS_AFTER: dict[EventKind, StepStatus] = {
    EventKind.STEP_FINISHED: StepStatus.DONE,
    EventKind.SKIPPED: StepStatus.SKIPPED,
    EventKind.ERROR: StepStatus.FAILED,
    EventKind.QUESTION: StepStatus.WAITING,
}
_FINAL = frozenset({StepStatus.DONE, StepStatus.SKIPPED})


class EventsMixin(StoreBase):
    """Writing and reading the step log."""

    def log_event(
        self,
        run_id: RunId,
        step_id: StepId,
        kind: EventKind | str,
        data: Mapping[str, Any] | None = None,
        *,
        duration_ms: int | None = None,
        cost_micros: int | None = None,
    ) -> Event:
        """Append an event; `data` is redacted before it is written."""
        kind = _event_kind(kind)
        text = dump_json(redact(dict(data or {})), what=f"{kind} event data")
        stamp = time_text(now())
        with self.atomic() as db:
            self._require_run(db, run_id)
            cursor = db.execute(
                "INSERT INTO aw_events (run_id, step_id, kind, at, data, duration_ms, cost_micros)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [run_id, step_id, str(kind), stamp, text, duration_ms, cost_micros],
            )
            event_id = cursor.lastrowid
        assert event_id is not None
        return Event(
            event_id=event_id,
            run_id=run_id,
            step_id=step_id,
            kind=kind,
            at=parse_time(stamp),
            data=load_json(text),
            duration_ms=duration_ms,
            cost_micros=cost_micros,
        )

    def events(self, run_id: RunId, step_id: StepId | None = None) -> list[Event]:
        """The run's events in order; only one step's if `step_id` is given."""
        sql = "SELECT * FROM aw_events WHERE run_id = ?"
        params: list[Any] = [run_id]
        if step_id is not None:
            sql += " AND step_id = ?"
            params.append(step_id)
        with self._read() as db:
            self._require_run(db, run_id)
            rows = list(db.query(sql + " ORDER BY event_id", params))
        return [_event_from_row(row) for row in rows]

    def step_summaries(self, run_id: RunId) -> list[StepSummary]:
        """One summary per step that has events, in the order the steps first appeared."""
        by_step: dict[StepId, list[Event]] = {}
        for event in self.events(run_id):
            by_step.setdefault(event.step_id, []).append(event)
        return [_summarise(step_id, events) for step_id, events in by_step.items()]


def _event_kind(kind: EventKind | str) -> EventKind:
    try:
        return EventKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in EventKind)
        raise ValueError(f"unknown event kind {kind!r}; known kinds: {known}") from None


def _event_from_row(row: dict[str, Any]) -> Event:
    return Event(
        event_id=row["event_id"],
        run_id=RunId(row["run_id"]),
        step_id=StepId(row["step_id"]),
        kind=EventKind(row["kind"]),
        at=parse_time(row["at"]),
        data=load_json(row["data"]),
        duration_ms=row["duration_ms"],
        cost_micros=row["cost_micros"],
    )


def _summarise(step_id: StepId, events: list[Event]) -> StepSummary:
    status = StepStatus.RUNNING
    started = [e for e in events if e.kind is EventKind.STEP_STARTED]
    attempt_start: datetime | None = None
    finish: Event | None = None
    message: str | None = None
    for event in events:
        if event.kind is EventKind.STEP_STARTED:
            # A new attempt (a resume, or a re-run after feedback) starts afresh.
            status, finish, attempt_start = StepStatus.RUNNING, None, event.at
        elif event.kind in _STATUS_AFTER:
            if status not in _FINAL:
                status = _STATUS_AFTER[event.kind]
            if event.kind is EventKind.STEP_FINISHED:
                finish = event
        elif status not in _FINAL:
            status = StepStatus.RUNNING  # the agent carried on after an error or an answer
        if event.kind is EventKind.USER_MESSAGE:
            message = str(event.data.get("text", "")) or message
    return StepSummary(
        step_id=step_id,
        status=status,
        attempts=len(started),
        started_at=started[0].at if started else None,
        finished_at=finish.at if finish else None,
        duration_ms=_duration(attempt_start, finish),
        cost_micros=sum(e.cost_micros or 0 for e in events),
        user_message=message,
    )


def _duration(started_at: datetime | None, finish: Event | None) -> int | None:
    if finish is None:
        return None
    if finish.duration_ms is not None:
        return finish.duration_ms
    if started_at is None:
        return None
    return round((finish.at - started_at).total_seconds() * 1000)
