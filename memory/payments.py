"""The payments ledger: what a run has spent, call by call.

One journaled call pays at most once, so a payment is keyed like the journal, by
(run, step, call number). Recording the same payment again (a resumed call whose
backend answered with the original receipt) changes nothing; recording a
different one for the same call is an error. Amounts are integer micro-units of
USDC (1 USD = 1,000,000), never floats. Record a payment in the same `atomic()`
block as `journal_finish` for its call, so neither exists without the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .base import StoreBase
from .encoding import dump_json, load_json, now, parse_time, time_text
from .errors import DuplicatePayment
from .ids import RunId, StepId

__all__ = ["Payment", "PaymentsMixin"]


@dataclass(frozen=True, kw_only=True)
class Payment:
    """One recorded payment."""

    run_id: RunId
    """The run that paid."""
    step_id: StepId
    """The step whose call paid."""
    call_no: int
    """The journaled call that paid."""
    action: str
    """That call's action, e.g. `create_project`."""
    amount_micros: int
    """The amount, in USDC micro-units."""
    receipt: dict[str, Any]
    """The backend's settlement receipt (network, transaction, payer, ...)."""
    recorded_at: datetime
    """When it was recorded (UTC)."""


class PaymentsMixin(StoreBase):
    """Recording and summing a run's payments."""

    def record_payment(
        self,
        run_id: RunId,
        step_id: StepId,
        call_no: int,
        action: str,
        amount_micros: int,
        receipt: Mapping[str, Any],
    ) -> Payment:
        """Record what call `call_no` paid; the same payment twice is recorded once."""
        if (
            isinstance(amount_micros, bool)
            or not isinstance(amount_micros, int)
            or amount_micros < 0
        ):
            raise ValueError(f"amount_micros must be a whole number >= 0, not {amount_micros!r}")
        receipt_text = dump_json(dict(receipt), what="payment receipt")
        key = [run_id, step_id, call_no]
        with self.atomic() as db:
            self._require_run(db, run_id)
            rows = db.execute(
                "SELECT action, amount_micros FROM aw_payments"
                " WHERE run_id = ? AND step_id = ? AND call_no = ?",
                key,
            ).fetchall()
            if rows and rows[0] != (action, amount_micros):
                raise DuplicatePayment(run_id, step_id, call_no)
            if not rows:
                db.execute(
                    "INSERT INTO aw_payments (run_id, step_id, call_no, action, amount_micros,"
                    " receipt, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [*key, action, amount_micros, receipt_text, time_text(now())],
                )
            return self._payments(run_id, "AND step_id = ? AND call_no = ?", [step_id, call_no])[0]

    def payments(self, run_id: RunId) -> list[Payment]:
        """The run's payments, in the order they were recorded."""
        return self._payments(run_id, "", [])

    def total_spent(self, run_id: RunId) -> int:
        """What the run has paid in all, in USDC micro-units."""
        with self._read() as db:
            self._require_run(db, run_id)
            row = db.execute(
                "SELECT coalesce(sum(amount_micros), 0) FROM aw_payments WHERE run_id = ?",
                [run_id],
            ).fetchone()
        return int(row[0])

    def _payments(self, run_id: RunId, where: str, params: list[Any]) -> list[Payment]:
        sql = f"SELECT * FROM aw_payments WHERE run_id = ? {where} ORDER BY recorded_at, rowid"
        with self._read() as db:
            self._require_run(db, run_id)
            rows = list(db.query(sql, [run_id, *params]))
        return [_payment_from_row(row) for row in rows]


def _payment_from_row(row: dict[str, Any]) -> Payment:
    return Payment(
        run_id=RunId(row["run_id"]),
        step_id=StepId(row["step_id"]),
        call_no=row["call_no"],
        action=row["action"],
        amount_micros=row["amount_micros"],
        receipt=load_json(row["receipt"]),
        recorded_at=parse_time(row["recorded_at"]),
    )
