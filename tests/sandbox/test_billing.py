"""End-to-end: faucet, balances, ledger history and paid messages, over real HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from appwright.sandbox.app import SandboxConfig
from appwright.sandbox.server import SandboxServer
from paying import FAUCET_MICROS, balance, history, new_account, payer

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_faucet_credits_once_then_429(api: str) -> None:
    address = Account.create().address  # checksummed, mixed case
    async with httpx.AsyncClient(base_url=api) as http:
        first = await http.post("/v1/faucet", json={"address": address})
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["address"] == address.lower()
        assert body["amount_usd_micros"] == FAUCET_MICROS == 250_000
        assert body["available_usd_micros"] == 250_000
        assert body["tx"].startswith("0x") and len(body["tx"]) == 66

        again = await http.post("/v1/faucet", json={"address": address.lower()})
    assert again.status_code == 429
    limited = again.json()
    assert limited["error"] == "faucet_rate_limited"
    assert 86_390 <= limited["retry_after"] <= 86_400
    assert again.headers["Retry-After"] == str(limited["retry_after"])
    next_at = dt.datetime.fromisoformat(limited["next_available_at"])
    expected = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=24)
    assert abs((next_at - expected).total_seconds()) < 60
    assert limited["message"] and limited["hint"]
    # the refused call credited nothing
    assert await balance(api, address) == 250_000
    entries = await history(api, address)
    assert [(e["kind"], e["amount_usd_micros"]) for e in entries] == [("faucet", 250_000)]


@pytest.mark.parametrize(
    "body",
    [{}, {"address": ""}, {"address": "0x123"}, {"address": "0x" + "g" * 40},
     {"address": "1234567890abcdef1234567890abcdef12345678"}, {"address": 42},
     {"address": "0x" + "a" * 41}],
)
async def test_faucet_rejects_bad_addresses(api: str, body: dict[str, object]) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post("/v1/faucet", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_address"
    assert "40 hex" in answer.json()["message"]


async def test_unknown_wallet_has_zero_balance(api: str) -> None:
    address = Account.create().address
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.get(f"/v1/billing/accounts/{address}")
        hist = await http.get(f"/v1/billing/accounts/{address}/history")
    assert answer.status_code == 200
    body = answer.json()
    assert body["wallet"] == address.lower()
    assert body["available_usd_micros"] == 0
    assert body["total_spent_usd_micros"] == 0
    assert hist.status_code == 200 and hist.json()["entries"] == []


async def test_billing_rejects_bad_wallet_and_limit(api: str) -> None:
    address = Account.create().address
    async with httpx.AsyncClient(base_url=api) as http:
        bad_wallet = await http.get("/v1/billing/accounts/not-a-wallet")
        bad_history = await http.get("/v1/billing/accounts/0x12/history")
        for limit in ("0", "-1", "abc", "201"):
            bad_limit = await http.get(f"/v1/billing/accounts/{address}/history", params={"limit": limit})
            assert bad_limit.status_code == 400 and bad_limit.json()["error"] == "invalid_limit"
    assert bad_wallet.status_code == 400 and bad_wallet.json()["error"] == "invalid_wallet"
    assert bad_history.status_code == 400 and bad_history.json()["error"] == "invalid_wallet"


async def test_message_is_charged_exactly_one_cent(api: str) -> None:
    account = await new_account(api)
    text = f"hello from {account.address}"
    async with payer(api, account) as http:
        sent = await http.post("/v1/message", json={"message": text})
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "sent"
    assert sent.headers["X-Run402-Settlement-Rail"] == "x402"
    assert "PAYMENT-RESPONSE" in sent.headers

    assert await balance(api, account.address) == 250_000 - 10_000
    newest, oldest = await history(api, account.address)
    assert newest["kind"] == "charge"
    assert newest["amount_usd_micros"] == -10_000
    assert "message" in newest["description"]
    assert newest["project_id"] is None and newest["tx"].startswith("0x")
    assert oldest["kind"] == "faucet" and oldest["amount_usd_micros"] == 250_000
    assert dt.datetime.fromisoformat(newest["created_at"]) >= dt.datetime.fromisoformat(oldest["created_at"])

    async with httpx.AsyncClient(base_url=api) as http:
        account_body = (await http.get(f"/v1/billing/accounts/{account.address}")).json()
        listed = (await http.get("/v1/messages", params={"limit": 5})).json()["messages"]
        one = await http.get(f"/v1/billing/accounts/{account.address}/history", params={"limit": 1})
    assert account_body["total_spent_usd_micros"] == 10_000
    assert account_body["total_credited_usd_micros"] == 250_000
    mine = [m for m in listed if m["message"] == text]
    assert len(mine) == 1 and mine[0]["wallet"] == account.address.lower()
    assert mine[0]["id"] == sent.json()["id"]
    assert len(one.json()["entries"]) == 1


async def test_messages_are_listed_newest_first(api: str) -> None:
    account = await new_account(api)
    async with payer(api, account) as http:
        for n in range(3):
            answer = await http.post("/v1/message", json={"message": f"order {n} {account.address}"})
            assert answer.status_code == 200, answer.text
    async with httpx.AsyncClient(base_url=api) as http:
        listed = (await http.get("/v1/messages", params={"limit": 3})).json()["messages"]
        bad = await http.get("/v1/messages", params={"limit": "0"})
    assert [m["message"] for m in listed] == [f"order {n} {account.address}" for n in (2, 1, 0)]
    assert bad.status_code == 400
    assert await balance(api, account.address) == 250_000 - 3 * 10_000


@pytest.mark.parametrize(
    ("body", "code"),
    [({}, "invalid_message"), ({"message": ""}, "invalid_message"), ({"message": "   "}, "invalid_message"),
     ({"message": 5}, "invalid_message"), ({"message": "x" * 4001}, "message_too_long")],
)
async def test_message_validation_comes_before_payment(api: str, body: dict[str, object], code: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:  # no payment: a 400, never a 402
        answer = await http.post("/v1/message", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"] == code


async def test_message_of_4000_characters_is_accepted(api: str) -> None:
    account = await new_account(api)
    async with payer(api, account) as http:
        answer = await http.post("/v1/message", json={"message": "y" * 4000})
    assert answer.status_code == 200, answer.text


async def test_message_without_payment_is_402(api: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post("/v1/message", json={"message": "free?"})
    assert answer.status_code == 402
    assert answer.json()["error"] == "payment_required"
    assert answer.headers["PAYMENT-REQUIRED"]
    assert answer.json()["accepts"][0]["amount"] == "10000"


async def test_unfunded_wallet_cannot_pay(api: str) -> None:
    account = await new_account(api, fund=False)
    async with payer(api, account) as http:
        answer = await http.post("/v1/message", json={"message": "no money"})
    assert answer.status_code == 402
    assert answer.json()["error"] == "insufficient_funds"
    assert await balance(api, account.address) == 0
    assert await history(api, account.address) == []


async def test_concurrent_faucet_calls_grant_once(api: str) -> None:
    address = Account.create().address
    async with httpx.AsyncClient(base_url=api) as http:
        answers = await asyncio.gather(*(http.post("/v1/faucet", json={"address": address}) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [200] + [429] * 5
    assert await balance(api, address) == 250_000
    assert len(await history(api, address)) == 1


async def test_faucet_without_interval_grants_every_time(pg_dsn: str, tmp_path: Path) -> None:
    config = SandboxConfig(data_dir=tmp_path, database_url=pg_dsn, faucet_interval_s=0)
    address = Account.create().address
    server = SandboxServer(config=config)
    await asyncio.to_thread(server.start)
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            answers = [await http.post("/v1/faucet", json={"address": address}) for _ in range(2)]
            account = (await http.get(f"/v1/billing/accounts/{address}")).json()
    finally:
        await asyncio.to_thread(server.stop)
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[1].json()["available_usd_micros"] == 500_000
    assert account["available_usd_micros"] == 500_000
