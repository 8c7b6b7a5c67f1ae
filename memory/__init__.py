"""appwright.memory: the SQLite memory store of appwright runs.

Runs and their leases, memory facts and the directive that governs them, the
step log, the action journal that makes every action happen exactly once, and the
payments ledger; LangGraph's checkpoints share the file (`MemoryStore.path`).
"""

from .directive import MemoryDirective
from .errors import (
    DirectiveViolation,
    DuplicatePayment,
    JournalError,
    JournalMismatch,
    MissingContext,
    RunBusy,
    RunExists,
    StoreCorrupt,
    StoreError,
    StoreTooNew,
    UnknownRun,
)
from .events import Event, EventKind, StepStatus, StepSummary
from .ids import IdempotencyKey, RunId, StepId, new_run_id
from .journal import JournalEntry, JournalStatus, idempotency_key
from .journaled import journaled, journaled_async
from .migrations import Migration, Migrations
from .payments import Payment
from .redact import REDACTED, is_secret_key, redact, redact_text
from .runs import Run, RunStatus
from .store import MemoryStore

__all__ = [
    "REDACTED",
    "DirectiveViolation",
    "DuplicatePayment",
    "Event",
    "EventKind",
    "IdempotencyKey",
    "JournalEntry",
    "JournalError",
    "JournalMismatch",
    "JournalStatus",
    "MemoryDirective",
    "MemoryStore",
    "Migration",
    "Migrations",
    "MissingContext",
    "Payment",
    "Run",
    "RunBusy",
    "RunExists",
    "RunId",
    "RunStatus",
    "StepId",
    "StepStatus",
    "StepSummary",
    "StoreCorrupt",
    "StoreError",
    "StoreTooNew",
    "UnknownRun",
    "idempotency_key",
    "is_secret_key",
    "journaled",
    "journaled_async",
    "new_run_id",
    "redact",
    "redact_text",
]
