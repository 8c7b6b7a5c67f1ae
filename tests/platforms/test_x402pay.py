"""appwright.platforms.x402pay over real loopback HTTP against appwright.sandbox.x402.

The server is a few-line Starlette app that asks for payment with `payment_required`,
checks it with `verify_payment` and an in-memory nonce set, and answers with
`payment_response`. It records every request and every PAYMENT-SIGNATURE it receives,
so "refused before signing" is checked from the server's side.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from eth_account import Account
from eth_account.signers.local import LocalAccount
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from x402 import SettleResponse
from x402.http.utils import encode_payment_response_header

from appwright.platforms.x402pay import (
    MAINNET,
    TESTNET,
    Budget,
    BudgetExceeded,
    CallCapExceeded,
    InsufficientFunds,
    NonceReused,
    PaymentError,
    PaymentExpired,
    PaymentInvalid,
    PaymentReceipt,
    PaymentRefused,
    PaymentTermsRefused,
    decode_payment_error,
    paying_client,
    paying_transport,
    receipt_from_response,
)
from appwright.sandbox.x402 import (
    PaymentRejected,
    payment_required,
    payment_response,
    pseudo_transaction,
    verify_payment,
)

PAY_TO = "0x402402402402402402402402402402402402402A"
OTHER = "0x2222222222222222222222222222222222222222"
PRICE = 100_000  # $0.10


# --- the server -----------------------------------------------------------------------


@dataclass(kw_only=True)
class Seen:
    """What reached the server."""

    requests: int = 0
    signatures: list[str] = field(default_factory=list)
    used: set[tuple[str, str]] = field(default_factory=set)


def app(seen: Seen) -> Starlette:
    async def paid(request: Request) -> JSONResponse:
        """Knobs: price, network, balance, skew (server clock), delay, verify_pay_to/_price."""
        q = request.query_params
        seen.requests += 1
        terms = {
            "amount_micros": int(q.get("price", PRICE)),
            "pay_to": PAY_TO,
            "network": q.get("network", TESTNET),
        }
        signature = request.headers.get("payment-signature")
        if signature is None:
            return challenge(request, terms, "payment_required", "this route costs a payment")
        seen.signatures.append(signature)
        await asyncio.sleep(float(q.get("delay", 0)))
        try:
            payment = verify_payment(
                signature,
                amount_micros=int(q.get("verify_price", terms["amount_micros"])),
                pay_to=q.get("verify_pay_to", PAY_TO),
                network=terms["network"],
                now=time.time() + float(q.get("skew", 0)),
            )
        except PaymentRejected as e:
            return challenge(request, terms, e.code, e.message)
        if (payment.payer, payment.nonce) in seen.used:
            return challenge(request, terms, "nonce_reused", "authorization already used")
        seen.used.add((payment.payer, payment.nonce))
        if int(q.get("balance", 10**12)) < payment.amount_micros:
            # As the sandbox's ledger answers it: a JSON error body, no x402 header.
            return JSONResponse(
                {"error": "insufficient_funds", "message": f"{payment.payer} cannot pay"},
                status_code=402,
            )
        receipt = payment_response(
            payer=payment.payer,
            transaction=pseudo_transaction(payment),
            network=payment.network,
            amount_micros=payment.amount_micros,
        )
        return JSONResponse({"ok": True}, headers={"PAYMENT-RESPONSE": receipt})

    async def settle_fails(request: Request) -> JSONResponse:
        """The official server's way to fail after verifying: PAYMENT-RESPONSE success=false."""
        seen.requests += 1
        terms = {"amount_micros": PRICE, "pay_to": PAY_TO, "network": TESTNET}
        signature = request.headers.get("payment-signature")
        if signature is None:
            return challenge(request, terms, None, None)
        seen.signatures.append(signature)
        payment = verify_payment(signature, **terms)
        failed = SettleResponse(
            success=False,
            error_reason="invalid_exact_evm_insufficient_balance",
            error_message="balance too low",
            payer=payment.payer,
            transaction="",
            network=TESTNET,
        )
        return JSONResponse(
            {},
            status_code=402,
            headers={"PAYMENT-RESPONSE": encode_payment_response_header(failed)},
        )

    async def quota(request: Request) -> JSONResponse:
        seen.requests += 1
        body = {"error": "quota_exceeded", "message": "API calls exceeded; renew the project"}
        return JSONResponse(body, status_code=402)

    async def free(request: Request) -> JSONResponse:
        seen.requests += 1
        return JSONResponse({"free": True})

    return Starlette(
        routes=[
            Route("/paid", paid, methods=["GET", "POST"]),
            Route("/settle-fails", settle_fails),
            Route("/quota", quota),
            Route("/free", free),
        ]
    )


def challenge(request: Request, terms: dict, error: str | None, message: str | None):
    header, body = payment_required(
        **terms, resource_url=str(request.url), description="test", error=error, message=message
    )
    return JSONResponse(body, status_code=402, headers={"PAYMENT-REQUIRED": header})


@contextlib.contextmanager
def serve(asgi: Starlette) -> Iterator[str]:
    """uvicorn on a free loopback port, in a background thread."""
    server = uvicorn.Server(
        uvicorn.Config(asgi, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def seen() -> Seen:
    return Seen()


@pytest.fixture(scope="module")
def base_url(seen: Seen) -> Iterator[str]:
    with serve(app(seen)) as url:
        yield url


@pytest.fixture
def account() -> LocalAccount:
    return Account.create()


@contextlib.asynccontextmanager
async def client(
    base_url: str,
    account: LocalAccount,
    *,
    cap: int = 1_000_000,
    budget: Budget | None = None,
    network: str = TESTNET,
) -> AsyncIterator[httpx.AsyncClient]:
    # Built per test, on the test's event loop.
    async with paying_client(
        account, max_per_call_micros=cap, budget=budget, network=network, base_url=base_url
    ) as http:
        yield http


# --- paying ---------------------------------------------------------------------------


async def test_pays_once_and_hands_back_the_receipt(
    base_url: str, seen: Seen, account: LocalAccount
) -> None:
    budget = Budget(limit_micros=1_000_000)
    requests, signatures = seen.requests, len(seen.signatures)
    async with client(base_url, account, budget=budget) as http:
        response = await http.post("/paid", json={"name": "app"})
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True}
    assert (seen.requests - requests, len(seen.signatures) - signatures) == (2, 1)
    receipt = receipt_from_response(response)
    assert isinstance(receipt, PaymentReceipt)
    assert receipt.payer == account.address
    assert receipt.network == TESTNET
    assert receipt.amount_micros == PRICE
    assert receipt.transaction.startswith("0x") and len(receipt.transaction) == 66
    assert (budget.spent_micros, budget.reserved_micros, budget.remaining_micros) == (
        PRICE,
        0,
        900_000,
    )


async def test_request_body_is_replayed_on_the_paid_retry(
    base_url: str, account: LocalAccount
) -> None:
    async with client(base_url, account) as http:
        response = await http.post("/paid", content=b"x" * 100_000)
    assert response.status_code == 200


async def test_free_route_pays_nothing(base_url: str, seen: Seen, account: LocalAccount) -> None:
    budget = Budget(limit_micros=PRICE)
    signatures = len(seen.signatures)
    async with client(base_url, account, budget=budget) as http:
        response = await http.get("/free")
    assert response.json() == {"free": True}
    assert receipt_from_response(response) is None
    assert budget.spent_micros == 0 and len(seen.signatures) == signatures


async def test_our_cap_replaces_the_packages_one_dollar_default(
    base_url: str, account: LocalAccount
) -> None:
    async with client(base_url, account, cap=5_000_000) as http:
        response = await http.get("/paid", params={"price": 5_000_000})  # hobby tier, $5
    assert response.status_code == 200
    assert receipt_from_response(response).amount_micros == 5_000_000


# --- refusing before signing ----------------------------------------------------------


async def test_budget_refuses_before_anything_is_signed(
    base_url: str, seen: Seen, account: LocalAccount
) -> None:
    budget = Budget(limit_micros=PRICE - 1)
    requests, signatures = seen.requests, len(seen.signatures)
    async with client(base_url, account, budget=budget) as http:
        with pytest.raises(BudgetExceeded) as caught:
            await http.get("/paid")
    assert (caught.value.price_micros, caught.value.remaining_micros) == (PRICE, PRICE - 1)
    assert "$0.10" in str(caught.value)
    assert seen.requests - requests == 1  # the unpaid request only
    assert len(seen.signatures) == signatures  # the server never saw a PAYMENT-SIGNATURE
    assert (budget.spent_micros, budget.reserved_micros) == (0, 0)


async def test_budget_runs_out_across_calls(base_url: str, seen: Seen, account) -> None:
    budget = Budget(limit_micros=150_000)
    async with client(base_url, account, budget=budget) as http:
        assert (await http.get("/paid")).status_code == 200
        signatures = len(seen.signatures)
        with pytest.raises(BudgetExceeded) as caught:
            await http.get("/paid")
    assert caught.value.remaining_micros == 50_000
    assert len(seen.signatures) == signatures
    assert budget.spent_micros == PRICE


async def test_concurrent_calls_cannot_overspend(base_url: str, seen: Seen, account) -> None:
    budget = Budget(limit_micros=250_000)
    signatures = len(seen.signatures)
    async with client(base_url, account, budget=budget) as http:
        results = await asyncio.gather(
            *(http.get("/paid", params={"delay": 0.2}) for _ in range(5)),
            return_exceptions=True,
        )
    paid = [r for r in results if isinstance(r, httpx.Response) and r.status_code == 200]
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert (len(paid), len(refused)) == (2, 3), results
    assert len(seen.signatures) - signatures == 2
    assert (budget.spent_micros, budget.reserved_micros) == (200_000, 0)


async def test_per_call_cap_refuses_before_signing(base_url: str, seen: Seen, account) -> None:
    signatures = len(seen.signatures)
    async with client(base_url, account, cap=PRICE - 1) as http:
        with pytest.raises(CallCapExceeded) as caught:
            await http.get("/paid")
    assert (caught.value.price_micros, caught.value.cap_micros) == (PRICE, PRICE - 1)
    assert isinstance(caught.value, PaymentRefused)
    assert len(seen.signatures) == signatures


async def test_mainnet_is_paid_only_when_asked_for(base_url: str, seen: Seen, account) -> None:
    signatures = len(seen.signatures)
    async with client(base_url, account) as http:  # default: Base Sepolia
        with pytest.raises(PaymentTermsRefused) as caught:
            await http.get("/paid", params={"network": MAINNET})
    assert MAINNET in str(caught.value) and "network='eip155:8453'" in str(caught.value)
    assert caught.value.payment_required.accepts[0].network == MAINNET
    assert len(seen.signatures) == signatures
    async with client(base_url, account, network=MAINNET) as http:
        response = await http.get("/paid", params={"network": MAINNET})
    assert response.status_code == 200
    assert receipt_from_response(response).network == MAINNET
    async with client(base_url, account, network=MAINNET) as http:  # and then mainnet only
        with pytest.raises(PaymentTermsRefused):
            await http.get("/paid")


# --- 402s after paying ----------------------------------------------------------------


async def test_insufficient_funds_is_typed_and_not_debited(base_url: str, account) -> None:
    budget = Budget(limit_micros=1_000_000)
    async with client(base_url, account, budget=budget) as http:
        response = await http.get("/paid", params={"balance": 0})
    assert response.status_code == 402
    assert receipt_from_response(response) is None
    error = decode_payment_error(response)
    assert isinstance(error, InsufficientFunds)
    assert error.code == "insufficient_funds"
    assert "appwright wallet fund" in str(error)
    assert account.address in error.server_message
    assert (budget.spent_micros, budget.reserved_micros) == (0, 0)


async def test_failed_settlement_header_is_typed_and_not_debited(base_url: str, account) -> None:
    budget = Budget(limit_micros=1_000_000)
    async with client(base_url, account, budget=budget) as http:
        response = await http.get("/settle-fails")
    assert response.status_code == 402
    assert receipt_from_response(response) is None
    error = decode_payment_error(response)
    assert isinstance(error, InsufficientFunds)
    assert error.code == "invalid_exact_evm_insufficient_balance"
    assert error.server_message == "balance too low"
    assert (budget.spent_micros, budget.reserved_micros) == (0, 0)


async def test_replayed_signature_decodes_as_nonce_reused(
    base_url: str, seen: Seen, account
) -> None:
    async with client(base_url, account) as http:
        assert (await http.get("/paid")).status_code == 200
    replay = seen.signatures[-1]
    async with httpx.AsyncClient(base_url=base_url) as plain:
        response = await plain.get("/paid", headers={"PAYMENT-SIGNATURE": replay})
    error = decode_payment_error(response)
    assert isinstance(error, NonceReused)
    assert error.code == "nonce_reused"
    assert "Idempotency-Key" in str(error)
    assert error.payment_required is not None and error.payment_required.error == "nonce_reused"


async def test_expired_payment_decodes_as_payment_expired(base_url: str, account) -> None:
    budget = Budget(limit_micros=1_000_000)
    async with client(base_url, account, budget=budget) as http:
        response = await http.get("/paid", params={"skew": 3600})  # the server's clock is ahead
    error = decode_payment_error(response)
    assert isinstance(error, PaymentExpired) and error.code == "expired"
    assert budget.spent_micros == 0


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"verify_pay_to": OTHER}, "wrong_pay_to"),
        ({"verify_price": PRICE + 1}, "insufficient_amount"),
    ],
)
async def test_rejected_payment_decodes_as_payment_invalid(
    base_url: str, account, params: dict, code: str
) -> None:
    async with client(base_url, account) as http:
        response = await http.get("/paid", params=params)
    error = decode_payment_error(response)
    assert isinstance(error, PaymentInvalid)
    assert error.code == code
    assert code in str(error)


async def test_402_without_x402_terms_is_returned_not_raised(
    base_url: str, seen: Seen, account
) -> None:
    budget = Budget(limit_micros=1_000_000)
    signatures = len(seen.signatures)
    async with client(base_url, account, budget=budget) as http:
        response = await http.get("/quota")
    assert response.status_code == 402
    error = decode_payment_error(response)
    assert type(error) is PaymentError
    assert error.code == "quota_exceeded"
    assert "renew" in str(error)
    assert len(seen.signatures) == signatures and budget.spent_micros == 0


async def test_plain_challenge_decodes_with_the_price(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as plain:
        response = await plain.get("/paid")
    error = decode_payment_error(response)
    assert type(error) is PaymentError
    assert error.code == "payment_required"
    assert "$0.10" in str(error) and TESTNET in str(error)
    assert error.payment_required.accepts[0].amount == str(PRICE)


def test_decode_payment_error_wants_a_402() -> None:
    with pytest.raises(ValueError, match="HTTP 200"):
        decode_payment_error(httpx.Response(200))


def test_receipt_from_headers_alone() -> None:
    header = payment_response(payer=OTHER, transaction="0xabc", network=TESTNET, amount_micros=7)
    response = httpx.Response(200, headers={"PAYMENT-RESPONSE": header})
    assert receipt_from_response(response) == PaymentReceipt(
        payer=OTHER, transaction="0xabc", network=TESTNET, amount_micros=7
    )
    assert receipt_from_response(httpx.Response(200)) is None
    assert receipt_from_response(httpx.Response(200, headers={"PAYMENT-RESPONSE": "junk"})) is None


# --- the budget itself ----------------------------------------------------------------


def test_budget_is_thread_safe() -> None:
    budget = Budget(limit_micros=1_000)
    granted: list[int] = []

    def worker() -> None:
        for _ in range(200):
            try:
                budget.reserve(1)
            except BudgetExceeded:
                continue
            granted.append(1)
            budget.commit(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 1_000
    assert (budget.spent_micros, budget.reserved_micros, budget.remaining_micros) == (1_000, 0, 0)


def test_budget_reserve_release_commit() -> None:
    budget = Budget(limit_micros=300, spent_micros=100)
    budget.reserve(150)
    assert budget.remaining_micros == 50
    with pytest.raises(BudgetExceeded) as caught:
        budget.reserve(60)
    assert (caught.value.price_micros, caught.value.remaining_micros) == (60, 50)
    budget.release(150)
    assert budget.remaining_micros == 200
    with pytest.raises(TypeError):
        Budget(300)  # type: ignore[misc]  # keyword-only
    with pytest.raises(ValueError):
        Budget(limit_micros=-1)


def test_transport_arguments_are_checked(account: LocalAccount) -> None:
    with pytest.raises(ValueError, match="unsupported network"):
        paying_transport(account, max_per_call_micros=1, network="eip155:1")
    with pytest.raises(ValueError, match="max_per_call_micros"):
        paying_transport(account, max_per_call_micros=0)
