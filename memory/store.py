"""`MemoryStore`: the one SQLite file that remembers a run.

It holds, in tables of its own (prefixed `aw_`, see `schema.py`): runs and their
leases, memory facts, the step log, the action journal and the payments ledger.
LangGraph's checkpoints live in the same file, in the tables `SqliteSaver` creates;
open the saver on `store.path`:

    store = MemoryStore(Path(".appwright/store.db"))
    saver = SqliteSaver(sqlite3.connect(store.path, check_same_thread=False))

Opening checks the file (a file that is not SQLite, or is damaged, or is another
program's database raises `StoreCorrupt`), switches it to WAL, sets a busy timeout,
and brings the schema up to date (a store from a newer appwright raises
`StoreTooNew`). Every write runs in `atomic()`; see `base.py`.
"""

from __future__ import annotations

from .directive import DirectiveMixin
from .events import EventsMixin
from .journal import JournalMixin
from .payments import PaymentsMixin
from .runs import RunsMixin

__all__ = ["MemoryStore"]


class MemoryStore(RunsMixin, DirectiveMixin, EventsMixin, JournalMixin, PaymentsMixin):
    """The memory store of appwright runs, over one SQLite file.

    `MemoryStore(path, *, busy_timeout_ms=10_000, lease_seconds=300.0)`.
    Safe to share between threads; use one instance per process.
    """

    def __enter__(self) -> MemoryStore:
        return self
