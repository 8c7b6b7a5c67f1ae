"""The payments ledger."""

from __future__ import annotations

import pytest
from appwright.memory import DuplicatePayment, MemoryStore, RunId, StepId, journaled

PROVISION = StepId("provision")
RECEIPT = {"network": "eip155:84532", "transaction": "0x" + "ab" * 32, "payer": "0x" + "12" * 20}


def test_payments_are_recorded_and_summed(store: MemoryStore, run_id: RunId) -> None:
    first = store.record_payment(run_id, PROVISION, 1, "create_project", 100_000, RECEIPT)
    store.record_payment(run_id, StepId("subdomain"), 1, "claim_subdomain", 0, {})
    store.record_payment(run_id, PROVISION, 3, "renew", 50_000, {"n": 2})
    assert (first.amount_micros, first.receipt, first.action) == (
        100_000,
        RECEIPT,
        "create_project",
    )
    assert [(p.step_id, p.call_no) for p in store.payments(run_id)] == [
        (PROVISION, 1),
        (StepId("subdomain"), 1),
        (PROVISION, 3),
    ]
    assert store.total_spent(run_id) == 150_000


def test_the_same_payment_twice_counts_once(store: MemoryStore, run_id: RunId) -> None:
    store.record_payment(run_id, PROVISION, 1, "create_project", 100_000, RECEIPT)
    again = store.record_payment(run_id, PROVISION, 1, "create_project", 100_000, RECEIPT)
    assert again.receipt == RECEIPT
    assert store.total_spent(run_id) == 100_000


def test_a_second_different_payment_for_one_call_is_refused(
    store: MemoryStore, run_id: RunId
) -> None:
    store.record_payment(run_id, PROVISION, 1, "create_project", 100_000, RECEIPT)
    with pytest.raises(DuplicatePayment, match="call #1 already has a different payment"):
        store.record_payment(run_id, PROVISION, 1, "create_project", 200_000, RECEIPT)
    assert store.total_spent(run_id) == 100_000


@pytest.mark.parametrize("amount", [-1, 0.1, True])
def test_amounts_are_whole_micro_units(store: MemoryStore, run_id: RunId, amount: object) -> None:
    with pytest.raises(ValueError, match="whole number"):
        store.record_payment(run_id, PROVISION, 1, "x", amount, {})  # type: ignore[arg-type]


def test_a_payment_and_its_journal_entry_commit_together(store: MemoryStore, run_id: RunId) -> None:
    entry = store.journal_begin(run_id, PROVISION, 1, "create_project", {"tier": "prototype"})
    with pytest.raises(RuntimeError), store.atomic():
        store.journal_finish(entry, {"project_id": "p1"})
        store.record_payment(run_id, PROVISION, 1, "create_project", 100_000, RECEIPT)
        raise RuntimeError("crash before commit")
    assert store.payments(run_id) == []
    assert store.journal_begin(
        run_id, PROVISION, 1, "create_project", {"tier": "prototype"}
    ).resumed
    entry = journaled(store, run_id, PROVISION, 2, "get_project", {}, lambda key: {"ok": True})
    assert entry.done
