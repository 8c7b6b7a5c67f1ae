"""Paying through the Run402 client: new wallets, budget and cap, networks, idempotency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from conftest import charges, funded_account, new_key
from eth_account import Account
from eth_account.signers.local import LocalAccount

from appwright.platforms.run402 import (
    MAINNET,
    TESTNET,
    Budget,
    BudgetExceeded,
    CallCapExceeded,
    InsufficientFunds,
    PaymentTermsRefused,
    Run402,
    WalletRequired,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


class LosesAnswers(httpx.AsyncBaseTransport):
    """A real transport that, for the first `times` matching requests, lets the server
    handle the request and then drops its answer, as a connection reset would."""

    def __init__(self, match: Callable[[httpx.Request], bool], *, times: int = 1) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._match = match
        self._left = times
        self.lost = 0
        """How many answers were dropped."""
        self.sent: list[httpx.Request] = []
        """Every request that went to the server."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        response = await self._inner.handle_async_request(request)
        if self._left > 0 and self._match(request):
            await response.aread()
            await response.aclose()
            self._left -= 1
            self.lost += 1
            raise httpx.ReadError("connection reset by peer", request=request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _paid(request: httpx.Request) -> bool:
    return "payment-signature" in request.headers


async def _balance(api: str, wallet: str) -> int:
    async with Run402(api=api) as client:
        return (await client.billing.account(wallet)).available_usd_micros


async def test_a_new_wallet_pays_after_the_faucet(api: str) -> None:
    account: LocalAccount = Account.create()
    budget = Budget(limit_micros=1_000_000)
    async with Run402(api=api, account=account, budget=budget) as client:
        assert client.address == account.address and client.network == TESTNET
        await client.faucet(account.address)
        created = await client.create_project("first", idempotency_key=new_key())
    assert created.receipt is not None and created.receipt.payer == account.address
    assert await _balance(api, account.address) == 150_000
    assert (budget.spent_micros, budget.reserved_micros) == (100_000, 0)


async def test_the_budget_refuses_before_signing(api: str, account: LocalAccount) -> None:
    budget = Budget(limit_micros=50_000)
    async with Run402(api=api, account=account, budget=budget) as client:
        with pytest.raises(BudgetExceeded) as caught:
            await client.create_project("too dear", idempotency_key=new_key())
        # The budget is still good for what it covers.
        await client.send_message("cheap", idempotency_key=new_key())
    assert (caught.value.price_micros, caught.value.remaining_micros) == (100_000, 50_000)
    [only] = await charges(api, account.address)
    assert only.amount_usd_micros == -10_000  # the message; the project was never paid for
    assert (budget.spent_micros, budget.reserved_micros) == (10_000, 0)


async def test_the_per_call_cap_refuses_before_signing(api: str, account: LocalAccount) -> None:
    async with Run402(api=api, account=account, max_per_call_micros=50_000) as client:
        with pytest.raises(CallCapExceeded):
            await client.create_project("capped", idempotency_key=new_key())
    assert await charges(api, account.address) == []


async def test_the_default_cap_refuses_a_hobby_project(api: str, account: LocalAccount) -> None:
    async with Run402(api=api, account=account) as client:
        with pytest.raises(CallCapExceeded):
            await client.create_project("hobby", "hobby", idempotency_key=new_key())


async def test_an_unfunded_wallet_gets_insufficient_funds(api: str) -> None:
    broke: LocalAccount = Account.create()
    budget = Budget(limit_micros=1_000_000)
    async with Run402(api=api, account=broke, budget=budget) as client:
        with pytest.raises(InsufficientFunds) as caught:
            await client.create_project("broke", idempotency_key=new_key())
    assert "appwright wallet fund" in str(caught.value)
    assert caught.value.code == "insufficient_funds"
    assert (budget.spent_micros, budget.reserved_micros) == (0, 0)


async def test_a_dearer_tier_than_the_balance_gets_insufficient_funds(api: str, account: LocalAccount) -> None:
    async with Run402(api=api, account=account, max_per_call_micros=5_000_000) as client:
        with pytest.raises(InsufficientFunds):
            await client.create_project("hobby", "hobby", idempotency_key=new_key())
    assert await charges(api, account.address) == []


async def test_mainnet_only_when_asked_and_never_on_a_testnet_server(api: str, account: LocalAccount) -> None:
    with pytest.raises(ValueError, match="unsupported network"):
        Run402(api=api, account=account, network="eip155:1")
    async with Run402(api=api, account=account, network=MAINNET) as client:
        assert client.network == MAINNET
        with pytest.raises(PaymentTermsRefused) as caught:
            await client.create_project("main", idempotency_key=new_key())
    assert TESTNET in str(caught.value)
    assert await charges(api, account.address) == []


async def test_a_paid_call_without_a_wallet_is_refused(api: str) -> None:
    async with Run402(api=api) as client:
        with pytest.raises(WalletRequired, match="appwright wallet create"):
            await client.create_project("nobody", idempotency_key=new_key())


async def test_paid_calls_require_an_idempotency_key(client: Run402) -> None:
    with pytest.raises(TypeError):
        await client.create_project("x")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="idempotency_key"):
        await client.create_project("x", idempotency_key=" ")
    with pytest.raises(TypeError):
        await client.send_message("x")  # type: ignore[call-arg]


async def test_resending_with_the_same_key_charges_once(api: str, client: Run402, account: LocalAccount) -> None:
    key = new_key()
    first = await client.create_project("once", idempotency_key=key)
    # As if the first answer had been lost: the caller sends the same call again.
    again = await client.create_project("once", idempotency_key=key)
    assert again.replayed and not first.replayed
    assert again.project_id == first.project_id and again.service_key == first.service_key
    assert again.receipt == first.receipt  # the original payment; nothing new was charged
    [charge] = await charges(api, account.address)
    assert charge.amount_usd_micros == -100_000
    assert await _balance(api, account.address) == 150_000


async def test_a_lost_paid_answer_is_resent_with_its_key_and_charged_once(api: str, account: LocalAccount) -> None:
    transport = LosesAnswers(_paid)
    budget = Budget(limit_micros=1_000_000)
    async with Run402(api=api, account=account, budget=budget, transport=transport) as client:
        created = await client.create_project("lost", idempotency_key=new_key())
    assert transport.lost == 1
    assert sum(_paid(r) for r in transport.sent) == 2  # paid, answer lost, paid again
    assert created.replayed and created.receipt is not None
    [charge] = await charges(api, account.address)
    assert (charge.project_id, charge.tx) == (created.project_id, created.receipt.transaction)
    assert budget.spent_micros == 100_000
    async with Run402(api=api, account=account) as client:
        assert (await client.schema(created.project_id, created.service_key)).tables == []


async def test_concurrent_calls_with_one_key_make_one_project(api: str, account: LocalAccount) -> None:
    key = new_key()
    async with Run402(api=api, account=account) as client:
        results = await asyncio.gather(*(client.create_project("race", idempotency_key=key) for _ in range(5)))
    assert len({r.project_id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert len(await charges(api, account.address)) == 1


async def test_renew_and_deploy_and_message_all_pay(api: str) -> None:
    account = await funded_account(api)
    async with Run402(api=api, account=account) as client:
        created = await client.create_project("all", idempotency_key=new_key())
        site = await client.deploy_site("s", created.project_id, {"index.html": "hi"}, idempotency_key=new_key())
        sent = await client.send_message("hi", idempotency_key=new_key())
        with pytest.raises(InsufficientFunds):  # 0.25 - 0.10 - 0.05 - 0.01 = 0.09 < 0.10
            await client.renew(created.project_id, idempotency_key=new_key())
    amounts = [r.amount_micros for r in (created.receipt, site.receipt, sent.receipt) if r is not None]
    assert amounts == [100_000, 50_000, 10_000]
    assert [c.amount_usd_micros for c in await charges(api, account.address)] == [-10_000, -50_000, -100_000]


async def test_a_replayed_paid_answer_is_not_counted_against_the_budget_again(api: str) -> None:
    import httpx as _httpx
    from eth_account import Account

    from appwright.platforms.run402 import Run402
    from appwright.platforms.x402pay import Budget

    account = Account.create()
    assert _httpx.post(f"{api}/v1/faucet", json={"address": account.address}).status_code == 200
    budget = Budget(limit_micros=250_000)
    async with Run402(api=api, account=account, budget=budget) as client:
        first = await client.create_project("once", idempotency_key="replay-budget-1")
        again = await client.create_project("once", idempotency_key="replay-budget-1")
    assert again.replayed and again.project_id == first.project_id
    assert budget.spent_micros == 100_000
