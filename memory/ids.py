"""Distinct id types for the memory store.

A run id, a step id and an idempotency key are all strings on disk, but they are
never interchangeable in code: `NewType` lets a type checker catch a step id passed
where a run id belongs, at no runtime cost.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import NewType

__all__ = ["IdempotencyKey", "RunId", "StepId", "new_run_id"]

RunId = NewType("RunId", str)
"""Identifies one run (one journey through the phases), e.g. `run-20260105-143210-a3f9c1`."""

StepId = NewType("StepId", str)
"""Identifies one step of a run by the step's `id`, e.g. `create_tables`."""

IdempotencyKey = NewType("IdempotencyKey", str)
"""The `Idempotency-Key` sent with one journaled call; derived from (run, step, call number)."""


def new_run_id() -> RunId:
    """A fresh run id: sortable by creation time, readable in a terminal, unique."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return RunId(f"run-{stamp}-{secrets.token_hex(3)}")
