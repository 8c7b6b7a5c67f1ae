"""Money and messages: balances, history, the testnet faucet, paid developer messages.

Balances are `sandbox.accounts` rows in micro-USD (1 USD = 1,000,000 = USDC atomic
units); every change is also a signed `sandbox.ledger` row (`faucet` credits,
`charge` debits written by `paid.run_paid`). The faucet gives 0.25 testnet USDC to an
address at most once per `Sandbox.faucet_interval_s` (24 h unless configured; 0 = no limit). `POST /v1/message` costs $0.01 and is kept locally,
listed newest first by `GET /v1/messages`. Wallets are stored lower-case.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import x402
from .context import json_body, sandbox_of
from .errors import ApiError
from .idempotency import with_idempotency
from .paid import Charge, PaidResult, run_paid
from .routing import Router
from .tiers import MESSAGE_PRICE

__all__ = ["router", "FAUCET_MICROS", "MAX_MESSAGE_CHARS"]

router = Router()

FAUCET_MICROS = 250_000
"""What one faucet grant credits: 0.25 testnet USDC."""
MAX_MESSAGE_CHARS = 4000
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


# --- faucet ---------------------------------------------------------------------------


@router.post("/v1/faucet")
async def faucet(request: Request) -> Response:
    """Credit 0.25 testnet USDC to an address, once per faucet interval (24 h)."""
    sandbox = sandbox_of(request)
    body = await json_body(request)
    address = _valid_address(body.get("address", body.get("wallet")), field="address")
    interval = dt.timedelta(seconds=max(0, sandbox.faucet_interval_s))

    async def work(conn: asyncpg.Connection) -> Response:
        # Serialise grants of one address: two concurrent calls cannot both pass the check.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 250))", address)
        now: dt.datetime = await conn.fetchval("SELECT now()")
        await _check_faucet_window(conn, address, now, interval)
        balance, tx = await _grant(conn, address)
        return JSONResponse({
            "address": address,
            "amount_usd_micros": FAUCET_MICROS,
            "available_usd_micros": balance,
            "network": sandbox.network,
            "tx": tx,
            "next_available_at": (now + interval).isoformat(),
        })

    # A grant resent with its Idempotency-Key (its answer was lost) is answered, not refused.
    return await with_idempotency(request, sandbox.pool, work, scope=f"faucet:{address}")


async def _check_faucet_window(
    conn: asyncpg.Connection, address: str, now: dt.datetime, interval: dt.timedelta,
) -> None:
    if not interval:
        return
    last = await conn.fetchval("SELECT max(granted_at) FROM sandbox.faucet_grants WHERE address = $1", address)
    if last is None or now - last >= interval:
        return
    next_at = last + interval
    retry_after = max(1, math.ceil((next_at - now).total_seconds()))
    raise ApiError(
        429, "faucet_rate_limited",
        f"{address} was funded at {last.isoformat()}; one grant per {_duration(interval)}",
        hint=f"retry after {retry_after} s, or use the balance you have (GET /v1/billing/accounts/{address})",
        headers={"Retry-After": str(retry_after)},
        retry_after=retry_after, next_available_at=next_at.isoformat(),
    )


async def _grant(conn: asyncpg.Connection, address: str) -> tuple[int, str]:
    tx = "0x" + secrets.token_hex(32)
    await conn.execute(
        "INSERT INTO sandbox.faucet_grants (address, amount_micros) VALUES ($1, $2)", address, FAUCET_MICROS,
    )
    balance = await conn.fetchval(
        "INSERT INTO sandbox.accounts (wallet, balance_micros) VALUES ($1, $2) ON CONFLICT (wallet) "
        "DO UPDATE SET balance_micros = sandbox.accounts.balance_micros + excluded.balance_micros "
        "RETURNING balance_micros",
        address, FAUCET_MICROS,
    )
    await conn.execute(
        "INSERT INTO sandbox.ledger (wallet, amount_micros, kind, description, tx) "
        "VALUES ($1, $2, 'faucet', $3, $4)",
        address, FAUCET_MICROS, f"testnet faucet: {FAUCET_MICROS / 1e6:.2f} USDC", tx,
    )
    return int(balance), tx


# --- accounts -------------------------------------------------------------------------


@router.get("/v1/billing/accounts/{wallet}")
async def account(request: Request, wallet: str) -> JSONResponse:
    """A wallet's balance; an unknown wallet has a zero balance."""
    address = _valid_address(wallet, field="wallet")
    pool = sandbox_of(request).pool
    balance = await pool.fetchval("SELECT balance_micros FROM sandbox.accounts WHERE wallet = $1", address)
    totals = await pool.fetchrow(
        "SELECT coalesce(sum(amount_micros) FILTER (WHERE amount_micros > 0), 0) AS credited, "
        "coalesce(-sum(amount_micros) FILTER (WHERE amount_micros < 0), 0) AS spent, count(*) AS entries "
        "FROM sandbox.ledger WHERE wallet = $1", address,
    )
    available = int(balance or 0)
    return JSONResponse({
        "wallet": address,
        "available_usd_micros": available,
        "available_usd": f"{available / 1e6:.2f}",
        "total_credited_usd_micros": int(totals["credited"]),
        "total_spent_usd_micros": int(totals["spent"]),
        "ledger_entries": int(totals["entries"]),
        "rail": "x402",
    })


@router.get("/v1/billing/accounts/{wallet}/history")
async def history(request: Request, wallet: str) -> JSONResponse:
    """A wallet's ledger entries, newest first."""
    address = _valid_address(wallet, field="wallet")
    limit = _limit(request, default=20, maximum=200)
    rows = await sandbox_of(request).pool.fetch(
        "SELECT id, amount_micros, kind, description, project_id, tx, created_at FROM sandbox.ledger "
        "WHERE wallet = $1 ORDER BY id DESC LIMIT $2", address, limit,
    )
    return JSONResponse({"wallet": address, "entries": [_entry_json(row) for row in rows]})


def _entry_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "amount_usd_micros": row["amount_micros"],
        "kind": row["kind"],
        "description": row["description"],
        "project_id": row["project_id"],
        "tx": row["tx"],
        "created_at": row["created_at"].isoformat(),
    }


# --- messages -------------------------------------------------------------------------


@router.post("/v1/message")
async def send_message(request: Request) -> Response:
    """A message to the platform's developers (x402, $0.01), kept with the payer's wallet."""
    sandbox = sandbox_of(request)
    text = _valid_message((await json_body(request)).get("message"))

    async def work(conn: asyncpg.Connection, payment: x402.VerifiedPayment) -> PaidResult:
        row = await conn.fetchrow(
            "INSERT INTO sandbox.messages (wallet, message) VALUES ($1, $2) RETURNING id, created_at",
            payment.payer.lower(), text,
        )
        return PaidResult(body={"status": "sent", "id": row["id"], "created_at": row["created_at"].isoformat()})

    charge = Charge(amount_micros=MESSAGE_PRICE, description="message to the developers")
    return await run_paid(request, sandbox.pool, charge, work, network=sandbox.network)


@router.get("/v1/messages")
async def list_messages(request: Request) -> JSONResponse:
    """Messages sent to this sandbox, newest first (a local stand-in for the developers' inbox)."""
    limit = _limit(request, default=50, maximum=500)
    rows = await sandbox_of(request).pool.fetch(
        "SELECT id, wallet, message, created_at FROM sandbox.messages ORDER BY id DESC LIMIT $1", limit,
    )
    return JSONResponse({"messages": [
        {"id": r["id"], "wallet": r["wallet"], "message": r["message"], "created_at": r["created_at"].isoformat()}
        for r in rows
    ]})


def _valid_message(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "invalid_message", "message must be a non-empty string",
                       hint='send {"message": "Hello from my agent!"}')
    if len(value) > MAX_MESSAGE_CHARS:
        raise ApiError(400, "message_too_long",
                       f"the message has {len(value)} characters; at most {MAX_MESSAGE_CHARS} are allowed")
    return value


# --- shared ---------------------------------------------------------------------------


def _valid_address(value: Any, *, field: str) -> str:
    if not isinstance(value, str) or not _ADDRESS.match(value):
        raise ApiError(400, f"invalid_{field}", f"{field} must be an EVM address: 0x followed by 40 hex digits",
                       hint="e.g. 0x1234567890abcdef1234567890abcdef12345678 (appwright wallet export prints yours)")
    return value.lower()


def _duration(interval: dt.timedelta) -> str:
    seconds = int(interval.total_seconds())
    return f"{seconds // 3600} h" if seconds % 3600 == 0 else f"{seconds} s"


def _limit(request: Request, *, default: int, maximum: int) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ApiError(400, "invalid_limit", f"limit must be an integer from 1 to {maximum}, not {raw!r}")
    return int(raw)
