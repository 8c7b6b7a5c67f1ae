"""Runs, and the lease that keeps two processes from driving one run at once.

A lease names its holder (owner label, pid, host, and a token unique to the
holding process) and lasts `lease_seconds` unless renewed. Another process may
take it when the holder is gone: its pid is dead on this host, or the pid is ours
but the token is not (a restarted container often reuses the same pid), or the
lease has expired. Taking and checking happen in one `BEGIN IMMEDIATE`
transaction, so of two processes racing for a run exactly one wins.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlite_utils import Database

from .base import StoreBase
from .encoding import now, parse_time, time_text
from .errors import RunBusy, RunExists, UnknownRun
from .ids import RunId, StepId, new_run_id
from .redact import redact_text

__all__ = ["Run", "RunStatus", "RunsMixin"]

# Unique to this process: tells our own leases from a dead predecessor's with our pid.
_PROCESS_TOKEN = uuid.uuid4().hex
_HOST = socket.gethostname()


class RunStatus(StrEnum):
    """Where a run stands."""

    PENDING = "pending"
    """Created, not started."""
    RUNNING = "running"
    """A process is driving it."""
    WAITING = "waiting"
    """Paused on a question to the user (a LangGraph interrupt)."""
    DONE = "done"
    """Every phase finished."""
    FAILED = "failed"
    """Stopped by an error; `Run.error` says which."""
    STOPPED = "stopped"
    """Stopped by the user, or by a bound (turns per step) it ran into; resumable."""
    ACTING = "acting"
    """Waiting for an outside agent (MCP or the shell verbs) to act on the current step."""


@dataclass(frozen=True, kw_only=True)
class Run:
    """One run as stored."""

    run_id: RunId
    """The run's id."""
    idea: str
    """What the user asked for, in their words ('' when the run follows a blueprint only)."""
    blueprint: str | None
    """The blueprint (app spec) the run follows, if any."""
    platform: str
    """The backend kind, e.g. `run402` or `altatech`."""
    api_base: str
    """The backend's base URL, e.g. the local sandbox's."""
    status: RunStatus
    """Where the run stands."""
    current_step: StepId | None
    """The step being worked on or last worked on."""
    error: str | None
    """Why the run failed (redacted), if it did."""
    created_at: datetime
    """When the run was created (UTC)."""
    updated_at: datetime
    """When the run row last changed (UTC)."""
    lease_owner: str | None
    """The owner label of the lease holder, if the run is leased."""
    lease_pid: int | None
    """The process id of the lease holder, if the run is leased."""


class RunsMixin(StoreBase):
    """Creating, reading and updating runs; leasing them."""

    def create_run(
        self,
        *,
        platform: str,
        api_base: str,
        idea: str = "",
        blueprint: str | None = None,
        run_id: RunId | None = None,
    ) -> Run:
        """Create a pending run (with a fresh id unless given); raises `RunExists`."""
        run_id = run_id or new_run_id()
        stamp = time_text(now())
        with self.atomic() as db:
            if db.execute("SELECT 1 FROM aw_runs WHERE run_id = ?", [run_id]).fetchall():
                raise RunExists(run_id)
            db.execute(
                "INSERT INTO aw_runs (run_id, idea, blueprint, platform, api_base,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [run_id, idea, blueprint, platform, api_base, stamp, stamp],
            )
            return self._fetch_run(db, run_id)

    def get_run(self, run_id: RunId) -> Run:
        """The run with this id; raises `UnknownRun`."""
        with self._read() as db:
            return self._fetch_run(db, run_id)

    def list_runs(self, *, status: RunStatus | None = None) -> list[Run]:
        """Every run, newest first; only those in `status` if given."""
        where, params = ("WHERE status = ?", [str(status)]) if status else ("", [])
        with self._read() as db:
            rows = list(
                db.query(f"SELECT * FROM aw_runs {where} ORDER BY created_at DESC, run_id", params)
            )
        return [_run_from_row(row) for row in rows]

    def set_run_status(
        self,
        run_id: RunId,
        status: RunStatus | str,
        *,
        current_step: StepId | None = None,
        error: str | None = None,
    ) -> Run:
        """Set the status, and the current step unless `None`; `error` replaces the stored one.

        The error is redacted before it is stored.
        """
        status = RunStatus(status)
        with self.atomic() as db:
            self._require_run(db, run_id)
            db.execute(
                "UPDATE aw_runs SET status = ?, current_step = coalesce(?, current_step),"
                " error = ?, updated_at = ? WHERE run_id = ?",
                [
                    str(status),
                    current_step,
                    redact_text(error) if error else None,
                    time_text(now()),
                    run_id,
                ],
            )
            return self._fetch_run(db, run_id)

    def acquire_run(self, run_id: RunId, owner: str) -> None:
        """Take (or renew) the run's lease for `owner` in this process; raises `RunBusy`.

        Call it again while working to renew the lease before it expires.
        """
        with self.atomic() as db:
            row = self._fetch_row(db, run_id)
            if not _is_ours(row, owner) and _holder_alive(row):
                raise _busy(run_id, row)
            clock = time.time()
            db.execute(
                "UPDATE aw_runs SET lease_owner = ?, lease_pid = ?, lease_host = ?,"
                " lease_token = ?, lease_heartbeat = ?, lease_expires = ? WHERE run_id = ?",
                [
                    owner,
                    os.getpid(),
                    _HOST,
                    _PROCESS_TOKEN,
                    clock,
                    clock + self.lease_seconds,
                    run_id,
                ],
            )

    def release_run(self, run_id: RunId, owner: str) -> None:
        """Give the lease up, if `owner` in this process holds it (otherwise do nothing)."""
        with self.atomic() as db:
            row = self._fetch_row(db, run_id)
            if _is_ours(row, owner):
                db.execute(
                    "UPDATE aw_runs SET lease_owner = NULL, lease_pid = NULL, lease_host = NULL,"
                    " lease_token = NULL, lease_heartbeat = NULL, lease_expires = NULL"
                    " WHERE run_id = ?",
                    [run_id],
                )

    @contextmanager
    def hold_run(self, run_id: RunId, owner: str) -> Iterator[None]:
        """`acquire_run` for the block, `release_run` after it."""
        self.acquire_run(run_id, owner)
        try:
            yield
        finally:
            self.release_run(run_id, owner)

    def _fetch_row(self, db: Database, run_id: RunId) -> dict[str, Any]:
        rows = list(db.query("SELECT * FROM aw_runs WHERE run_id = ?", [run_id]))
        if not rows:
            raise UnknownRun(run_id, self.path)
        return rows[0]

    def _fetch_run(self, db: Database, run_id: RunId) -> Run:
        return _run_from_row(self._fetch_row(db, run_id))


def _run_from_row(row: dict[str, Any]) -> Run:
    return Run(
        run_id=RunId(row["run_id"]),
        idea=row["idea"],
        blueprint=row["blueprint"],
        platform=row["platform"],
        api_base=row["api_base"],
        status=RunStatus(row["status"]),
        current_step=StepId(row["current_step"]) if row["current_step"] else None,
        error=row["error"],
        created_at=parse_time(row["created_at"]),
        updated_at=parse_time(row["updated_at"]),
        lease_owner=row["lease_owner"],
        lease_pid=row["lease_pid"],
    )


def _is_ours(row: dict[str, Any], owner: str) -> bool:
    return bool(row["lease_token"] == _PROCESS_TOKEN and row["lease_owner"] == owner)


def _holder_alive(row: dict[str, Any]) -> bool:
    """Whether the lease in `row` is held by a process that may still be working."""
    if row["lease_token"] is None or row["lease_expires"] < time.time():
        return False
    if row["lease_token"] == _PROCESS_TOKEN:
        return True  # this process, under another owner label
    if row["lease_host"] != _HOST:
        return True  # cannot see the process; only expiry frees the lease
    if row["lease_pid"] == os.getpid():
        return False  # our pid, not our token: a dead predecessor's lease
    return _pid_alive(row["lease_pid"])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, belongs to another user
    return True


def _busy(run_id: RunId, row: dict[str, Any]) -> RunBusy:
    return RunBusy(
        run_id,
        owner=row["lease_owner"],
        pid=row["lease_pid"],
        host=row["lease_host"],
        expires_in=max(0.0, row["lease_expires"] - time.time()),
    )
