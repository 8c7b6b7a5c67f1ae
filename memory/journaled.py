"""`journaled`: run one action exactly once across crashes and resumes.

It does the journal's dance for the caller: begin the call; if the journal already
has its result, return that without calling; otherwise call `fn` with the call's
idempotency key (to send as the `Idempotency-Key` header) and record the result.

An `Exception` from `fn` is recorded as a failure and re-raised (the call will be
retried, with the same key, if it is begun again). Anything else that interrupts
the call (`KeyboardInterrupt`, task cancellation, a kill) leaves it `started`:
whether the backend received it is unknown, which is exactly what the idempotency
key resolves on the next attempt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .ids import IdempotencyKey, RunId, StepId
from .journal import JournalEntry, JournalMixin

__all__ = ["journaled", "journaled_async"]


def journaled(
    store: JournalMixin,
    run_id: RunId,
    step_id: StepId,
    call_no: int,
    action: str,
    args: Mapping[str, Any],
    fn: Callable[[IdempotencyKey], Mapping[str, Any]],
) -> JournalEntry:
    """The finished entry of the call; `fn` runs only if no result was recorded before.

    `entry.result` is the result; `entry.replayed` says it came from the journal.
    """
    entry = store.journal_begin(run_id, step_id, call_no, action, args)
    if entry.done:
        return entry
    try:
        result = fn(entry.idempotency_key)
    except Exception as error:
        store.journal_fail(entry, error)
        raise
    return store.journal_finish(entry, result)


async def journaled_async(
    store: JournalMixin,
    run_id: RunId,
    step_id: StepId,
    call_no: int,
    action: str,
    args: Mapping[str, Any],
    fn: Callable[[IdempotencyKey], Awaitable[Mapping[str, Any]]],
) -> JournalEntry:
    """`journaled` for an async `fn`. The store calls themselves are short and synchronous."""
    entry = store.journal_begin(run_id, step_id, call_no, action, args)
    if entry.done:
        return entry
    try:
        result = await fn(entry.idempotency_key)
    except Exception as error:
        store.journal_fail(entry, error)
        raise
    return store.journal_finish(entry, result)
