"""The store's schema, as numbered migrations.

Every table is prefixed `aw_` because the same file holds LangGraph's checkpoint
tables (`checkpoints`, `writes`) and could one day hold its `store` tables too.
Tables are STRICT: a wrong type is an error, not a silently coerced value. JSON
columns hold text written by `encoding.dump_json`. Times are ISO 8601 UTC text,
except the lease's, which are Unix seconds because only machines compare them.

To change the schema, add migration N+1 below; never edit a released one.
"""

from __future__ import annotations

from sqlite_utils import Database

from .migrations import Migrations

__all__ = ["APPWRIGHT_TABLES", "LANGGRAPH_TABLES", "MIGRATIONS"]

MIGRATIONS = Migrations()
"""The appwright store's migrations, applied when a `MemoryStore` opens."""

APPWRIGHT_TABLES = frozenset(
    {"_appwright_meta", "aw_runs", "aw_facts", "aw_events", "aw_journal", "aw_payments"}
)
"""The tables the store owns."""

LANGGRAPH_TABLES = frozenset(
    {"checkpoints", "writes", "store", "store_vectors", "store_migrations", "vector_migrations"}
)
"""Tables LangGraph's SQLite checkpointer and store create; expected in a store file."""

_RUN_STATUSES = "'pending', 'running', 'waiting', 'done', 'failed', 'stopped'"
_EVENT_KINDS = (
    "'step_started', 'step_finished', 'prompt_shown', 'action', 'payment', "
    "'validation_failed', 'verify_failed', 'user_message', 'question', 'answer', "
    "'error', 'skipped'"
)
# Version 2: runs may wait on an outside agent; the log records an LLM agent's model turns.
_RUN_STATUSES_V2 = _RUN_STATUSES + ", 'acting'"
_EVENT_KINDS_V2 = _EVENT_KINDS + ", 'model_turn'"


@MIGRATIONS(1)
def create_tables(db: Database) -> None:
    """Runs with their lease, memory facts, the step log, the action journal, payments."""
    for statement in _V1:
        db.execute(statement)


_V1 = (
    f"""
    CREATE TABLE aw_runs (
        run_id       TEXT PRIMARY KEY,
        idea         TEXT NOT NULL DEFAULT '',
        blueprint    TEXT,
        platform     TEXT NOT NULL,
        api_base     TEXT NOT NULL,
        status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ({_RUN_STATUSES})),
        current_step TEXT,
        error        TEXT,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL,
        lease_owner  TEXT,
        lease_pid    INTEGER,
        lease_host   TEXT,
        lease_token  TEXT,
        lease_heartbeat REAL,
        lease_expires   REAL
    ) STRICT
    """,
    """
    CREATE TABLE aw_facts (
        run_id     TEXT NOT NULL REFERENCES aw_runs (run_id),
        key        TEXT NOT NULL,
        value      TEXT NOT NULL,
        secret     INTEGER NOT NULL DEFAULT 0 CHECK (secret IN (0, 1)),
        step_id    TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (run_id, key)
    ) STRICT, WITHOUT ROWID
    """,
    f"""
    CREATE TABLE aw_events (
        event_id    INTEGER PRIMARY KEY,
        run_id      TEXT NOT NULL REFERENCES aw_runs (run_id),
        step_id     TEXT NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ({_EVENT_KINDS})),
        at          TEXT NOT NULL,
        data        TEXT NOT NULL,
        duration_ms INTEGER CHECK (duration_ms >= 0),
        cost_micros INTEGER CHECK (cost_micros >= 0)
    ) STRICT
    """,
    "CREATE INDEX aw_events_by_run_step ON aw_events (run_id, step_id, event_id)",
    # The step log is append-only: what happened stays what happened.
    """
    CREATE TRIGGER aw_events_no_update BEFORE UPDATE ON aw_events
    BEGIN SELECT RAISE(ABORT, 'aw_events is append-only'); END
    """,
    """
    CREATE TRIGGER aw_events_no_delete BEFORE DELETE ON aw_events
    BEGIN SELECT RAISE(ABORT, 'aw_events is append-only'); END
    """,
    """
    CREATE TABLE aw_journal (
        run_id          TEXT NOT NULL REFERENCES aw_runs (run_id),
        step_id         TEXT NOT NULL,
        call_no         INTEGER NOT NULL CHECK (call_no >= 0),
        action          TEXT NOT NULL,
        args            TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        status          TEXT NOT NULL CHECK (status IN ('started', 'finished', 'failed')),
        result          TEXT,
        error           TEXT,
        attempts        INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1),
        started_at      TEXT NOT NULL,
        finished_at     TEXT,
        PRIMARY KEY (run_id, step_id, call_no),
        CHECK ((status = 'finished') = (result IS NOT NULL))
    ) STRICT
    """,
    """
    CREATE TABLE aw_payments (
        run_id        TEXT NOT NULL REFERENCES aw_runs (run_id),
        step_id       TEXT NOT NULL,
        call_no       INTEGER NOT NULL,
        action        TEXT NOT NULL,
        amount_micros INTEGER NOT NULL CHECK (amount_micros >= 0),
        receipt       TEXT NOT NULL,
        recorded_at   TEXT NOT NULL,
        PRIMARY KEY (run_id, step_id, call_no)
    ) STRICT
    """,
)


@MIGRATIONS(2)
def agents_that_drive_steps(db: Database) -> None:
    """Allow the run status `acting` and the event kind `model_turn` (CHECKs: tables rebuilt)."""
    # Other tables reference aw_runs: check their keys at commit, after the swap is complete.
    db.execute("PRAGMA defer_foreign_keys = ON")
    _rebuild(db, "aw_runs", _V1[0].replace(_RUN_STATUSES, _RUN_STATUSES_V2))
    _rebuild(db, "aw_events", _V1[2].replace(_EVENT_KINDS, _EVENT_KINDS_V2))
    for statement in _V1[3:6]:  # the index and the append-only triggers went with the old table
        db.execute(statement)


def _rebuild(db: Database, table: str, create: str) -> None:
    # Rows go back in after the new table exists under its own name: that insert is what
    # settles the foreign keys the DROP left pending (a renamed copy would not).
    db.execute(f"CREATE TEMP TABLE {table}_rows AS SELECT * FROM {table}")
    db.execute(f"DROP TABLE {table}")
    db.execute(create)
    db.execute(f"INSERT INTO {table} SELECT * FROM temp.{table}_rows")
    db.execute(f"DROP TABLE temp.{table}_rows")
