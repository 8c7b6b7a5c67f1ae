"""Errors raised by the memory store.

Every error derives from `StoreError`, and every message says what happened, to
what, and what the user or the engine can do next: these messages reach people
through the CLI unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .ids import RunId, StepId

__all__ = [
    "DirectiveViolation",
    "DuplicatePayment",
    "JournalError",
    "JournalMismatch",
    "MissingContext",
    "RunBusy",
    "RunExists",
    "StoreCorrupt",
    "StoreError",
    "StoreTooNew",
    "UnknownRun",
]


class StoreError(Exception):
    """Base class of every memory-store error."""


class StoreCorrupt(StoreError):
    """The file is not a usable store: not SQLite, damaged, or another program's database."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path: Path = path
        """The file that was opened."""
        self.reason: str = reason
        """What is wrong with it."""
        super().__init__(
            f"{path} is not a valid appwright store: {reason}. "
            f"Move it aside (mv {path} {path}.bad) and start again, "
            "or point appwright at another store file."
        )


class StoreTooNew(StoreError):
    """The store was written by a newer appwright, whose schema this version does not know."""

    def __init__(self, path: Path, found: int, known: int) -> None:
        self.path: Path = path
        """The store file."""
        self.found: int = found
        """The schema version recorded in the file."""
        self.known: int = known
        """The newest schema version this appwright knows."""
        super().__init__(
            f"{path} has store schema version {found}, but this appwright knows only "
            f"versions up to {known}. Upgrade appwright (pip install -U appwright) "
            "or use a different store file."
        )


class UnknownRun(StoreError, LookupError):
    """No run with this id is in the store."""

    def __init__(self, run_id: RunId, path: Path) -> None:
        self.run_id: RunId = run_id
        """The id that was asked for."""
        super().__init__(
            f"no run {run_id!r} in {path}. See the runs it holds with `appwright runs`."
        )


class RunExists(StoreError):
    """`create_run` was given the id of a run that already exists."""

    def __init__(self, run_id: RunId) -> None:
        self.run_id: RunId = run_id
        """The id that is taken."""
        super().__init__(
            f"a run {run_id!r} already exists; resume it, or create the new run with another id."
        )


class RunBusy(StoreError):
    """Another live process holds the run's lease."""

    def __init__(
        self, run_id: RunId, *, owner: str, pid: int, host: str, expires_in: float
    ) -> None:
        self.run_id: RunId = run_id
        """The run that is busy."""
        self.owner: str = owner
        """The owner label of the lease holder (e.g. `cli`, `mcp`)."""
        self.pid: int = pid
        """The holder's process id, on `host`."""
        self.host: str = host
        """The host name of the holder."""
        self.expires_in: float = expires_in
        """Seconds until the holder's lease expires unless it renews it."""
        super().__init__(
            f"run {run_id!r} is busy: {owner!r} (pid {pid} on {host}) is working on it; "
            f"its lease runs for another {expires_in:.0f} s. Wait for it to finish, "
            "or stop that process and try again."
        )


class MissingContext(StoreError, KeyError):
    """A step needs memory keys that no earlier step has stored."""

    def __init__(
        self, run_id: RunId, keys: tuple[str, ...], producers: Mapping[str, StepId]
    ) -> None:
        self.run_id: RunId = run_id
        """The run whose memory was read."""
        self.keys: tuple[str, ...] = keys
        """The missing keys, sorted."""
        self.producers: dict[str, StepId] = {k: producers[k] for k in keys if k in producers}
        """For each missing key that some step declares in its `store`, that step."""
        parts = [
            f"{key} (should have been stored by step {self.producers[key]!r})"
            if key in self.producers
            else f"{key} (no step declares it in its memory directive)"
            for key in keys
        ]
        super().__init__(
            f"run {run_id!r} has no memory for: {', '.join(parts)}. "
            "Run or resume the steps that store them first."
        )

    def __str__(self) -> str:
        # KeyError.__str__ would quote the whole message; show it as written.
        return str(self.args[0])


class DirectiveViolation(StoreError, ValueError):
    """A step's output does not match its memory directive's `store` keys."""

    def __init__(
        self, step_id: StepId, *, missing: tuple[str, ...], undeclared: tuple[str, ...]
    ) -> None:
        self.step_id: StepId = step_id
        """The step whose output was applied."""
        self.missing: tuple[str, ...] = missing
        """Keys in `store` that the output lacks."""
        self.undeclared: tuple[str, ...] = undeclared
        """Keys in the output that `store` does not declare."""
        problems = []
        if missing:
            problems.append(f"its output lacks {', '.join(missing)}, which it declares in store")
        if undeclared:
            problems.append(
                f"its output has {', '.join(undeclared)}, which its store does not declare"
            )
        super().__init__(
            f"step {step_id!r} broke its memory directive: {'; '.join(problems)}. "
            "Nothing was stored."
        )


class JournalError(StoreError):
    """The action journal was used out of order (e.g. finishing a call twice)."""


class JournalMismatch(JournalError):
    """A call number was begun again with another action or other arguments than recorded."""

    def __init__(
        self,
        run_id: RunId,
        step_id: StepId,
        call_no: int,
        *,
        recorded: str,
        attempted: str,
    ) -> None:
        self.run_id: RunId = run_id
        """The run of the call."""
        self.step_id: StepId = step_id
        """The step of the call."""
        self.call_no: int = call_no
        """The call number within the step."""
        super().__init__(
            f"run {run_id!r}, step {step_id!r}, call #{call_no} was recorded as {recorded} "
            f"but is now {attempted}: the agent diverged from its journal, so the recorded "
            "call cannot be replayed. Restart the step from scratch."
        )


class DuplicatePayment(StoreError):
    """A payment for this call is already recorded, with a different action or amount."""

    def __init__(self, run_id: RunId, step_id: StepId, call_no: int) -> None:
        self.run_id: RunId = run_id
        """The run of the call."""
        self.step_id: StepId = step_id
        """The step of the call."""
        self.call_no: int = call_no
        """The call number within the step."""
        super().__init__(
            f"run {run_id!r}, step {step_id!r}, call #{call_no} already has a different "
            "payment recorded; one call pays at most once."
        )
