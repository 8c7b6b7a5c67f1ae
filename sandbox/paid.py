"""Paid routes: x402 payment, idempotency and the work, in one transaction.

A paid call either does its work, settles its payment against the payer's balance
and stores its answer under its Idempotency-Key, all in one commit, or does none of
it. The same key + method + path from the same payer within 24 h returns the stored
answer and charges nothing, even though the retry carries a new payment (which is
checked, then left unused); concurrent retries with one key wait on an advisory
lock, so ten of them make one project and one charge.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from . import x402
from .db import own_sql_only
from .errors import ApiError
from .idempotency import with_idempotency

__all__ = ["Charge", "PaidResult", "run_paid", "PAY_TO"]

PAY_TO = "0x402402402402402402402402402402402402402a"
"""The sandbox's receiving address: payments name it as payTo."""


@dataclass(frozen=True, kw_only=True)
class Charge:
    """What a paid route costs and says it is for."""

    amount_micros: int
    """The price in micro-USD (= USDC atomic units)."""
    description: str
    """Shown in the 402 answer and the billing history."""


@dataclass(frozen=True, kw_only=True)
class PaidResult:
    """What a paid handler produced."""

    body: dict[str, Any]
    """The JSON answer."""
    status: int = 200
    """Its HTTP status."""
    project_id: str | None = None
    """The project the charge is for, for the billing history."""


PaidHandler = Callable[[asyncpg.Connection, x402.VerifiedPayment], Awaitable[PaidResult]]


async def run_paid(
    request: Request, pool: asyncpg.Pool, charge: Charge, handler: PaidHandler,
    *, network: str,
) -> Response:
    """Serve a paid route: replay, ask for payment, or pay and do the work."""

    # The payment is checked first: a replay is only for the payer who made the call.
    payment = _verify(request, charge, network)

    async def pay_and_work(conn: asyncpg.Connection) -> Response:
        result = await handler(conn, payment)
        tx = await _settle(conn, payment, charge, result, request=request, network=network)
        return _answer(result, payment, tx, network)

    # Paid work is the sandbox's own SQL (projects, ledger, sites, messages), never a
    # project's: its connection goes back to the pool without a reset round trip.
    with own_sql_only():
        return await with_idempotency(request, pool, pay_and_work, scope="payer:" + payment.payer.lower())


def _verify(request: Request, charge: Charge, network: str) -> x402.VerifiedPayment:
    header = request.headers.get("payment-signature") or request.headers.get("x-payment")
    if not header:
        raise _payment_required(request, charge, network, "payment_required",
                                "this route costs x402 payment; none was sent")
    try:
        payment = x402.verify_payment(
            header, amount_micros=charge.amount_micros, pay_to=PAY_TO, network=network,
        )
    except x402.PaymentRejected as rejected:
        raise _payment_required(request, charge, network, rejected.code, rejected.message) from None
    return payment


# One round trip settles a payment: the nonce is used, the payer debited and the ledger
# written only if the nonce was fresh and the balance covers the price.
_SETTLE = """
WITH fresh AS (
    INSERT INTO sandbox.nonces (payer, nonce) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1
), debit AS (
    UPDATE sandbox.accounts SET balance_micros = balance_micros - $3
     WHERE wallet = $1 AND balance_micros >= $3 AND EXISTS (SELECT 1 FROM fresh)
    RETURNING balance_micros
), ledger AS (
    INSERT INTO sandbox.ledger (wallet, amount_micros, kind, description, project_id, tx)
    SELECT $1, -$3, 'charge', $4, $5, $6 FROM debit RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM fresh) AS fresh, EXISTS (SELECT 1 FROM ledger) AS paid
"""


async def _settle(
    conn: asyncpg.Connection, payment: x402.VerifiedPayment, charge: Charge, result: PaidResult,
    *, request: Request, network: str,
) -> str:
    """Use the nonce, debit the payer and write the ledger; or refuse, and the caller's
    transaction (the work included) rolls back."""
    wallet = payment.payer.lower()
    tx = "0x" + secrets.token_hex(32)
    row = await conn.fetchrow(
        _SETTLE, wallet, payment.nonce, charge.amount_micros, charge.description, result.project_id, tx,
    )
    if not row["fresh"]:
        raise _payment_required(request, charge, network, "nonce_reused",
                                "this payment authorization was already used; sign a new one")
    if not row["paid"]:
        error = _payment_required(
            request, charge, network, "insufficient_funds",
            f"wallet {wallet} cannot pay {charge.amount_micros / 1e6:.2f} USD",
        )
        error.hint = "fund it: appwright wallet fund (POST /v1/faucet gives 0.25 testnet USDC per 24 h)"
        raise error
    return tx


def _answer(result: PaidResult, payment: x402.VerifiedPayment, tx: str, network: str) -> Response:
    headers = {
        "PAYMENT-RESPONSE": x402.payment_response(
            payer=payment.payer, transaction=tx, network=network, amount_micros=payment.amount_micros,
        ),
        "X-Run402-Settlement-Rail": "x402",
        "Content-Type": "application/json",
    }
    return Response(json.dumps(result.body), status_code=result.status, headers=headers)


def _payment_required(
    request: Request, charge: Charge, network: str, code: str, message: str,
) -> ApiError:
    header, accepts = x402.payment_required(
        amount_micros=charge.amount_micros, pay_to=PAY_TO, resource_url=str(request.url),
        description=charge.description, network=network, error=code,
    )
    return ApiError(
        402, code, message,
        hint="pay with x402 v2 (exact scheme, USDC) and retry with a PAYMENT-SIGNATURE header",
        headers={"PAYMENT-REQUIRED": header}, **accepts,
    )
