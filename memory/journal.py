"""The action journal: each action of a run is executed at most once, on purpose.

LangGraph re-runs an interrupted node from its first line, so a step's agent calls
its actions again after every resume. Each call is numbered within its step, and
before it is sent it is begun in the journal under (run, step, call number):

- no entry yet: one is written as `started`, and the call is sent;
- `finished`: the recorded result is returned and the call is NOT sent again;
- `started` (the process died mid-call) or `failed`: the call is sent again with
  the same idempotency key, so a backend that saw the first attempt answers it
  without doing (or charging) it twice.

The journal keeps arguments and results unredacted, because a resume needs them;
only errors are redacted. A call begun with another action or other arguments
than those recorded under its number means the agent has diverged: `JournalMismatch`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlite_utils import Database

from .base import StoreBase
from .encoding import dump_json, load_json, now, parse_time, time_text
from .errors import JournalError, JournalMismatch
from .ids import IdempotencyKey, RunId, StepId
from .redact import redact, redact_text

__all__ = ["JournalEntry", "JournalMixin", "JournalStatus", "idempotency_key"]


class JournalStatus(StrEnum):
    """Where a journaled call stands."""

    STARTED = "started"
    """Begun; its outcome is unknown (in flight, or the process died)."""
    FINISHED = "finished"
    """Done; its result is recorded."""
    FAILED = "failed"
    """Raised an error; begun again, it is retried with the same idempotency key."""


@dataclass(frozen=True, kw_only=True)
class JournalEntry:
    """One journaled call, as `journal_begin` and `journal_finish` return it."""

    run_id: RunId
    """The run."""
    step_id: StepId
    """The step."""
    call_no: int
    """The call's number within the step (the agent's n-th action)."""
    action: str
    """The action's name, e.g. `run_sql`."""
    args: dict[str, Any]
    """The action's arguments."""
    idempotency_key: IdempotencyKey
    """Sent with every attempt of this call; the same on every resume."""
    status: JournalStatus
    """Where the call stands."""
    result: dict[str, Any] | None
    """The recorded result, once finished."""
    error: str | None
    """The last failure (redacted), if any."""
    attempts: int
    """How many times the call was begun."""
    started_at: datetime
    """When the call was first begun (UTC)."""
    finished_at: datetime | None
    """When it finished or last failed (UTC)."""
    resumed: bool = False
    """Begun again after an unfinished or failed attempt: send it again, with the same key."""
    replayed: bool = False
    """Found finished: use `result`, do not send the call."""

    @property
    def done(self) -> bool:
        """Whether the call is finished and its `result` recorded."""
        return self.status is JournalStatus.FINISHED


def idempotency_key(run_id: RunId, step_id: StepId, call_no: int, salt: str = "") -> IdempotencyKey:
    """The key for call `call_no` of a step of a run: deterministic, 35 characters.

    `salt` (the run's creation time) keeps two runs that share a name apart: a run id
    reused in another store, paying from the same wallet, must not be answered with
    the other run's project.
    """
    # JSON keeps the parts apart: ("a|b", "c") and ("a", "b|c") differ.
    material = json.dumps([run_id, step_id, call_no, salt] if salt else [run_id, step_id, call_no]).encode()
    return IdempotencyKey("aw-" + hashlib.sha256(material).hexdigest()[:32])


class JournalMixin(StoreBase):
    """Beginning, finishing and reading journaled calls."""

    def call_key(self, run_id: RunId, step_id: StepId, call_no: int) -> IdempotencyKey:
        """The idempotency key that call `call_no` of the step is (or will be) sent with."""
        with self._read() as db:
            return idempotency_key(run_id, step_id, call_no, _run_salt(db, run_id))

    def journal_begin(
        self,
        run_id: RunId,
        step_id: StepId,
        call_no: int,
        action: str,
        args: Mapping[str, Any],
    ) -> JournalEntry:
        """Begin call `call_no` of the step; see the module docstring for what comes back."""
        args_text = dump_json(dict(args), what=f"arguments of {action}")
        with self.atomic() as db:
            self._require_run(db, run_id)
            row = _select(db, run_id, step_id, call_no)
            if row is None:
                return self._insert(db, run_id, step_id, call_no, action, args_text)
            _check_same_call(row, action, args_text)
            if row["status"] == JournalStatus.FINISHED:
                return replace(_entry_from_row(row), replayed=True)
            db.execute(
                "UPDATE aw_journal SET status = 'started', attempts = attempts + 1"
                " WHERE run_id = ? AND step_id = ? AND call_no = ?",
                [run_id, step_id, call_no],
            )
            return replace(
                _entry_from_row(_select_existing(db, run_id, step_id, call_no)), resumed=True
            )

    def journal_finish(self, entry: JournalEntry, result: Mapping[str, Any]) -> JournalEntry:
        """Record the result of a begun call; it will never be sent again."""
        text = dump_json(dict(result), what=f"result of {entry.action}")
        return self._end(entry, "status = 'finished', result = ?", [text])

    def journal_fail(self, entry: JournalEntry, error: BaseException | str) -> JournalEntry:
        """Record that a begun call failed; begun again, it is retried."""
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        return self._end(entry, "status = 'failed', error = ?", [redact_text(message)])

    def journal(self, run_id: RunId, step_id: StepId | None = None) -> list[JournalEntry]:
        """The run's journaled calls (one step's if given), in the order they were first begun."""
        sql = "SELECT * FROM aw_journal WHERE run_id = ?"
        params: list[Any] = [run_id]
        if step_id is not None:
            sql += " AND step_id = ?"
            params.append(step_id)
        with self._read() as db:
            self._require_run(db, run_id)
            rows = list(db.query(sql + " ORDER BY started_at, step_id, call_no", params))
        return [_entry_from_row(row) for row in rows]

    def _insert(
        self,
        db: Database,
        run_id: RunId,
        step_id: StepId,
        call_no: int,
        action: str,
        args_text: str,
    ) -> JournalEntry:
        db.execute(
            "INSERT INTO aw_journal (run_id, step_id, call_no, action, args, idempotency_key,"
            " status, started_at) VALUES (?, ?, ?, ?, ?, ?, 'started', ?)",
            [
                run_id,
                step_id,
                call_no,
                action,
                args_text,
                idempotency_key(run_id, step_id, call_no, _run_salt(db, run_id)),
                time_text(now()),
            ],
        )
        return _entry_from_row(_select_existing(db, run_id, step_id, call_no))

    def _end(self, entry: JournalEntry, assignments: str, params: list[Any]) -> JournalEntry:
        run_id, step_id, call_no = entry.run_id, entry.step_id, entry.call_no
        with self.atomic() as db:
            row = _select(db, run_id, step_id, call_no)
            if row is None or row["status"] != JournalStatus.STARTED:
                state = "not journaled" if row is None else row["status"]
                raise JournalError(
                    f"call #{call_no} of step {step_id!r} is {state}, not in progress: "
                    "only a begun call can be finished or failed, once"
                )
            db.execute(
                f"UPDATE aw_journal SET {assignments}, finished_at = ?"
                " WHERE run_id = ? AND step_id = ? AND call_no = ?",
                [*params, time_text(now()), run_id, step_id, call_no],
            )
            return _entry_from_row(_select_existing(db, run_id, step_id, call_no))


def _select(db: Database, run_id: RunId, step_id: StepId, call_no: int) -> dict[str, Any] | None:
    rows = list(
        db.query(
            "SELECT * FROM aw_journal WHERE run_id = ? AND step_id = ? AND call_no = ?",
            [run_id, step_id, call_no],
        )
    )
    return rows[0] if rows else None


def _select_existing(db: Database, run_id: RunId, step_id: StepId, call_no: int) -> dict[str, Any]:
    row = _select(db, run_id, step_id, call_no)
    assert row is not None, "journal row vanished inside its own transaction"
    return row


def _check_same_call(row: dict[str, Any], action: str, args_text: str) -> None:
    if row["action"] == action and row["args"] == args_text:
        return
    raise JournalMismatch(
        RunId(row["run_id"]),
        StepId(row["step_id"]),
        row["call_no"],
        recorded=_describe(row["action"], row["args"]),
        attempted=_describe(action, args_text),
    )


def _describe(action: str, args_text: str, limit: int = 200) -> str:
    # Arguments can hold secrets, and messages reach logs: redact, and keep it short.
    shown = dump_json(redact(load_json(args_text)), what="arguments")
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return f"{action}({shown})"


def _entry_from_row(row: dict[str, Any]) -> JournalEntry:
    return JournalEntry(
        run_id=RunId(row["run_id"]),
        step_id=StepId(row["step_id"]),
        call_no=row["call_no"],
        action=row["action"],
        args=load_json(row["args"]),
        idempotency_key=IdempotencyKey(row["idempotency_key"]),
        status=JournalStatus(row["status"]),
        result=load_json(row["result"]) if row["result"] is not None else None,
        error=row["error"],
        attempts=row["attempts"],
        started_at=parse_time(row["started_at"]),
        finished_at=parse_time(row["finished_at"]) if row["finished_at"] else None,
    )


def _run_salt(db: Database, run_id: RunId) -> str:
    rows = db.execute("SELECT created_at FROM aw_runs WHERE run_id = ?", [run_id]).fetchall()
    return str(rows[0][0]) if rows else ""
