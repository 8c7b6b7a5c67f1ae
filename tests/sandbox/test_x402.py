"""appwright.sandbox.x402 against the official x402 2.25 client, over real loopback HTTP.

A few-line Starlette app protects one route with our `payment_required` /
`verify_payment` / `payment_response` and an in-memory nonce set; the payer is the
unmodified official client (`x402Client` + `ExactEvmScheme` + `x402AsyncTransport`).
Rejection cases re-verify a header the official client really sent, changed in one way.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from eth_account import Account
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from x402 import PaymentPayload, PaymentRequired, x402Client
from x402.http.clients.httpx import x402AsyncTransport
from x402.http.utils import (
    decode_payment_required_header,
    decode_payment_response_header,
    encode_payment_signature_header,
)
from x402.mechanisms.evm.default_assets import DEFAULT_ASSETS
from x402.mechanisms.evm.exact import ExactEvmScheme
from x402.mechanisms.evm.signers import EthAccountSigner
from x402.mechanisms.evm.types import AUTHORIZATION_TYPES as X402_AUTHORIZATION_TYPES

from appwright.sandbox.x402 import (
    AUTHORIZATION_TYPES,
    NETWORKS,
    PaymentRejected,
    VerifiedPayment,
    payment_required,
    payment_response,
    pseudo_transaction,
    verify_payment,
)

PAY_TO = "0x1111111111111111111111111111111111111111"
OTHER = "0x2222222222222222222222222222222222222222"
PRICE = 100_000  # the prototype tier, $0.10
TESTNET, MAINNET = "eip155:84532", "eip155:8453"


# --- a tiny paid server ---------------------------------------------------------------


@dataclass(kw_only=True)
class Ledger:
    """What the server saw: every PAYMENT-SIGNATURE, and the (payer, nonce) pairs used."""

    signatures: list[str] = field(default_factory=list)
    used: set[tuple[str, str]] = field(default_factory=set)


def paid_app(ledger: Ledger) -> Starlette:
    async def paid(request: Request) -> JSONResponse:
        price = int(request.query_params.get("price", PRICE))
        network = request.query_params.get("network", TESTNET)
        terms = {"amount_micros": price, "pay_to": PAY_TO, "network": network}
        signature = request.headers.get("payment-signature")
        if signature is None:
            return challenge(request, terms, error=None, message=None)
        ledger.signatures.append(signature)
        try:
            payment = verify_payment(signature, **terms)
        except PaymentRejected as e:
            return challenge(request, terms, error=e.code, message=e.message)
        if (payment.payer, payment.nonce) in ledger.used:
            return challenge(request, terms, error="nonce_reused", message="already used")
        ledger.used.add((payment.payer, payment.nonce))
        receipt = payment_response(
            payer=payment.payer,
            transaction=pseudo_transaction(payment),
            network=payment.network,
            amount_micros=payment.amount_micros,
        )
        return JSONResponse({"ok": True}, headers={"PAYMENT-RESPONSE": receipt})

    return Starlette(routes=[Route("/paid", paid, methods=["GET", "POST"])])


def challenge(request: Request, terms: dict, *, error: str | None, message: str | None):
    header, body = payment_required(
        **terms,
        resource_url=str(request.url),
        description="test resource",
        error=error,
        message=message,
    )
    return JSONResponse(body, status_code=402, headers={"PAYMENT-REQUIRED": header})


@contextlib.contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Run `app` with uvicorn on a free loopback port in a thread; yield its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture(scope="module")
def base_url(ledger: Ledger) -> Iterator[str]:
    with serve(paid_app(ledger)) as url:
        yield url


def official_client(account, network: str = TESTNET) -> x402Client:
    return x402Client().register(network, ExactEvmScheme(signer=EthAccountSigner(account)))


@contextlib.asynccontextmanager
async def official_http(base_url: str, network: str = TESTNET) -> AsyncIterator[httpx.AsyncClient]:
    # Not an async fixture: the client must live on the test's own event loop.
    transport = x402AsyncTransport(official_client(Account.create(), network))
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
        yield http


async def signed_header(
    *,
    amount_micros: int = PRICE,
    pay_to: str = PAY_TO,
    network: str = TESTNET,
    account=None,
) -> str:
    """What the official client puts in PAYMENT-SIGNATURE for our challenge."""
    header, _ = payment_required(
        amount_micros=amount_micros,
        pay_to=pay_to,
        resource_url="http://test/paid",
        description="test",
        network=network,
    )
    client = official_client(account or Account.create(), network)
    payload = await client.create_payment_payload(decode_payment_required_header(header))
    return encode_payment_signature_header(payload)


def edit_payload(header: str, change) -> str:
    """Decode a PAYMENT-SIGNATURE, apply `change(dict)`, re-encode it."""
    data = json.loads(base64.b64decode(header))
    change(data)
    return base64.b64encode(json.dumps(data).encode()).decode()


def rejection(header: str, **terms) -> PaymentRejected:
    terms = {"amount_micros": PRICE, "pay_to": PAY_TO, "network": TESTNET, **terms}
    with pytest.raises(PaymentRejected) as caught:
        verify_payment(header, **terms)
    return caught.value


# --- over HTTP, with the official client ----------------------------------------------


async def test_official_client_pays_once_and_gets_the_receipt(
    base_url: str, ledger: Ledger
) -> None:
    seen = len(ledger.signatures)
    async with official_http(base_url) as http:
        response = await http.get("/paid")
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True}
    assert len(ledger.signatures) == seen + 1  # one signature, one retry
    receipt = decode_payment_response_header(response.headers["PAYMENT-RESPONSE"])
    assert receipt.success is True
    assert receipt.network == TESTNET
    assert receipt.amount == str(PRICE)
    assert receipt.transaction.startswith("0x") and len(receipt.transaction) == 66
    payer = json.loads(base64.b64decode(ledger.signatures[-1]))["payload"]["authorization"]["from"]
    assert receipt.payer == payer


async def test_replayed_signature_is_rejected_over_http(base_url: str, ledger: Ledger) -> None:
    async with official_http(base_url) as http:
        first = await http.get("/paid")
    assert first.status_code == 200
    replayed = ledger.signatures[-1]
    async with httpx.AsyncClient(base_url=base_url) as plain:
        again = await plain.get("/paid", headers={"PAYMENT-SIGNATURE": replayed})
    assert again.status_code == 402
    assert again.json()["error"] == "nonce_reused"
    assert decode_payment_required_header(again.headers["PAYMENT-REQUIRED"]).error == (
        "nonce_reused"
    )
    assert "PAYMENT-RESPONSE" not in again.headers


async def test_challenge_is_what_the_official_client_parses(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as plain:
        response = await plain.get("/paid")
    assert response.status_code == 402
    parsed = decode_payment_required_header(response.headers["PAYMENT-REQUIRED"])
    assert isinstance(parsed, PaymentRequired)
    assert parsed.x402_version == 2
    (offer,) = parsed.accepts
    assert (offer.scheme, offer.network, offer.amount) == ("exact", TESTNET, str(PRICE))
    assert offer.asset == NETWORKS[TESTNET].usdc
    assert offer.pay_to == PAY_TO
    assert offer.extra == {"name": "USDC", "version": "2"}
    assert offer.max_timeout_seconds >= 60
    # The JSON body is the same object as the header.
    assert PaymentRequired.model_validate(response.json()) == parsed


async def test_official_client_with_testnet_only_will_not_pay_a_mainnet_route(
    base_url: str, ledger: Ledger
) -> None:
    seen = len(ledger.signatures)
    async with official_http(base_url) as http:
        with pytest.raises(Exception, match="No payment requirements match"):
            await http.get("/paid", params={"network": MAINNET})
    assert len(ledger.signatures) == seen


async def test_official_client_pays_mainnet_only_when_registered_for_it(
    base_url: str,
) -> None:
    async with official_http(base_url, MAINNET) as http:
        response = await http.get("/paid", params={"network": MAINNET})
    assert response.status_code == 200
    assert decode_payment_response_header(response.headers["PAYMENT-RESPONSE"]).network == MAINNET


# --- verify_payment on real signatures, one thing wrong at a time ---------------------


async def test_verify_returns_the_canonical_payment() -> None:
    account = Account.create()
    header = await signed_header(account=account)
    before = int(time.time())
    payment = verify_payment(header, amount_micros=PRICE, pay_to=PAY_TO.upper().replace("0X", "0x"))
    assert isinstance(payment, VerifiedPayment)
    assert payment.payer == account.address  # checksummed
    assert payment.pay_to == PAY_TO
    assert payment.amount_micros == PRICE
    assert payment.network == TESTNET
    assert payment.nonce == payment.nonce.lower() and len(payment.nonce) == 66
    assert before + 300 <= payment.valid_before <= int(time.time()) + 300


async def test_nonce_is_canonical_whatever_the_case_sent() -> None:
    header = await signed_header()
    lower = verify_payment(header, amount_micros=PRICE, pay_to=PAY_TO)

    def upper_nonce(data: dict) -> None:
        auth = data["payload"]["authorization"]
        auth["nonce"] = "0x" + auth["nonce"][2:].upper()

    # Same bytes32 on chain, same signature: must be the same replay key.
    upper = verify_payment(edit_payload(header, upper_nonce), amount_micros=PRICE, pay_to=PAY_TO)
    assert upper.nonce == lower.nonce


async def test_expired_authorization_is_rejected() -> None:
    header = await signed_header()
    assert rejection(header, now=time.time() + 3600).code == "expired"
    # validBefore must be ≥ now + 6 s: 5 s before the end is already too late.
    valid_before = verify_payment(header, amount_micros=PRICE, pay_to=PAY_TO).valid_before
    assert rejection(header, now=valid_before - 5).code == "expired"
    assert verify_payment(header, amount_micros=PRICE, pay_to=PAY_TO, now=valid_before - 6)


async def test_validity_window_edited_into_the_past_is_expired() -> None:
    account = Account.create()
    header = await signed_header(account=account)
    data = json.loads(base64.b64decode(header))
    data["payload"]["authorization"]["validBefore"] = str(int(time.time()) - 10)
    rejected = rejection(base64.b64encode(json.dumps(data).encode()).decode())
    assert rejected.code == "expired"
    assert rejected.payer == account.address


async def test_not_yet_valid_authorization_is_rejected() -> None:
    header = await signed_header()
    future = edit_payload(
        header,
        lambda d: d["payload"]["authorization"].update(validAfter=str(int(time.time()) + 60)),
    )
    assert rejection(future).code == "not_yet_valid"


async def test_underpayment_is_rejected() -> None:
    header = await signed_header(amount_micros=PRICE - 1)
    rejected = rejection(header)
    assert rejected.code == "insufficient_amount"
    assert str(PRICE) in rejected.message


async def test_overpayment_is_rejected_exact_means_exact() -> None:
    header = await signed_header(amount_micros=PRICE + 1)
    assert rejection(header).code == "wrong_amount"


async def test_wrong_pay_to_is_rejected() -> None:
    header = await signed_header(pay_to=OTHER)
    assert rejection(header).code == "wrong_pay_to"


async def test_wrong_network_is_rejected() -> None:
    mainnet = await signed_header(network=MAINNET)
    assert rejection(mainnet).code == "wrong_network"
    testnet = await signed_header()
    assert rejection(testnet, network=MAINNET).code == "wrong_network"


async def test_wrong_asset_is_rejected() -> None:
    header = edit_payload(
        await signed_header(), lambda d: d["accepted"].update(asset=NETWORKS[MAINNET].usdc)
    )
    assert rejection(header).code == "wrong_asset"


async def test_unsupported_scheme_and_permit2_payloads_are_rejected() -> None:
    header = await signed_header()
    upto = edit_payload(header, lambda d: d["accepted"].update(scheme="upto"))
    assert rejection(upto).code == "unsupported_scheme"
    permit2 = edit_payload(header, lambda d: d.update(payload={"permit2Authorization": {}}))
    assert rejection(permit2).code == "unsupported_scheme"


async def test_tampered_signature_is_rejected() -> None:
    header = await signed_header()

    def flip_byte(data: dict) -> None:
        sig = bytearray.fromhex(data["payload"]["signature"][2:])
        sig[10] ^= 0x01
        data["payload"]["signature"] = "0x" + sig.hex()

    assert rejection(edit_payload(header, flip_byte)).code == "invalid_signature"


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("value", str(PRICE)),  # signed for less, claims the full price
        ("nonce", "0x" + "ab" * 32),  # replay a signature under a fresh nonce
        ("from", OTHER),  # claim someone else pays
        ("validBefore", str(int(time.time()) + 10_000)),  # stretch the window
    ],
)
async def test_every_signed_field_is_covered_by_the_signature(field_name: str, value: str) -> None:
    header = await signed_header(amount_micros=PRICE - 1 if field_name == "value" else PRICE)
    changed = edit_payload(
        header, lambda d: d["payload"]["authorization"].update({field_name: value})
    )
    assert rejection(changed).code == "invalid_signature"


async def test_wrong_eip712_domain_name_makes_the_signature_invalid() -> None:
    # A server advertising mainnet's token name on testnet: the client signs a domain
    # the token contract (and we) do not use.
    header, _ = payment_required(
        amount_micros=PRICE, pay_to=PAY_TO, resource_url="http://t/", description="t"
    )
    required = decode_payment_required_header(header)
    required.accepts[0].extra["name"] = "USD Coin"
    payload = await official_client(Account.create()).create_payment_payload(required)
    assert rejection(encode_payment_signature_header(payload)).code == "invalid_signature"


async def test_non_canonical_high_s_signature_is_rejected() -> None:
    header = await signed_header()
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

    def malleate(data: dict) -> None:
        sig = bytes.fromhex(data["payload"]["signature"][2:])
        high_s = (n - int.from_bytes(sig[32:64], "big")).to_bytes(32, "big")
        v = 27 + 28 - sig[64] if sig[64] >= 27 else 1 - sig[64]
        data["payload"]["signature"] = "0x" + (sig[:32] + high_s + bytes([v])).hex()

    # Recovers to the same address, but the USDC contract would refuse it.
    assert rejection(edit_payload(header, malleate)).code == "invalid_signature"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "not base64 !!!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"[1, 2]").decode(),
        base64.b64encode(b'{"x402Version": 2}').decode(),
        base64.b64encode(b'{"x402Version": 1, "scheme": "exact"}').decode(),
        "A" * 20_000,
    ],
)
def test_malformed_headers_are_rejected(header: str) -> None:
    assert rejection(header).code == "malformed"


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("from", "0x123"),
        ("value", "-5"),
        ("value", "1e5"),
        ("nonce", "0x1234"),
        ("validBefore", None),
    ],
)
async def test_malformed_authorization_fields_are_rejected(field_name: str, value) -> None:
    header = edit_payload(
        await signed_header(), lambda d: d["payload"]["authorization"].update({field_name: value})
    )
    assert rejection(header).code == "malformed"


async def test_short_signature_is_malformed() -> None:
    header = edit_payload(
        await signed_header(), lambda d: d["payload"].update(signature="0x" + "00" * 64)
    )
    assert rejection(header).code == "malformed"


def test_server_side_mistakes_are_value_errors_not_rejections() -> None:
    with pytest.raises(ValueError, match="unknown network"):
        verify_payment("x", amount_micros=PRICE, pay_to=PAY_TO, network="eip155:1")
    with pytest.raises(ValueError, match="pay_to"):
        verify_payment("x", amount_micros=PRICE, pay_to="nobody")
    with pytest.raises(ValueError, match="amount_micros"):
        payment_required(amount_micros=0, pay_to=PAY_TO, resource_url="u", description="d")


# --- the challenge and the receipt ----------------------------------------------------


def test_payment_required_header_and_body_are_one_object() -> None:
    header, body = payment_required(
        amount_micros=5_000_000,
        pay_to=PAY_TO.lower(),
        resource_url="http://localhost/v1/projects/create/hobby",
        description="Hobby tier",
        network=MAINNET,
        error="insufficient_funds",
        message="Top up the wallet",
    )
    decoded = json.loads(base64.b64decode(header))
    assert body.pop("message") == "Top up the wallet"
    assert decoded == body
    assert decoded["x402Version"] == 2
    assert decoded["error"] == "insufficient_funds"
    assert decoded["resource"]["url"].endswith("/hobby")
    (offer,) = decoded["accepts"]
    assert offer == {
        "scheme": "exact",
        "network": MAINNET,
        "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        "amount": "5000000",
        "payTo": PAY_TO,  # checksummed
        "maxTimeoutSeconds": 300,
        "extra": {"name": "USD Coin", "version": "2"},
    }


def test_payment_response_is_a_successful_settle_response() -> None:
    header = payment_response(payer=OTHER, transaction="0x" + "cd" * 32, network=TESTNET)
    settled = decode_payment_response_header(header)
    assert settled.success is True
    assert (settled.payer, settled.network, settled.amount) == (OTHER, TESTNET, None)


async def test_pseudo_transaction_is_stable_per_payment() -> None:
    first = verify_payment(await signed_header(), amount_micros=PRICE, pay_to=PAY_TO)
    second = verify_payment(await signed_header(), amount_micros=PRICE, pay_to=PAY_TO)
    assert pseudo_transaction(first) == pseudo_transaction(first)
    assert pseudo_transaction(first) != pseudo_transaction(second)


def test_network_table_matches_the_x402_package() -> None:
    for network_id, network in NETWORKS.items():
        (usdc,) = DEFAULT_ASSETS[network_id]
        assert network.id == network_id
        assert network.chain_id == int(network_id.split(":")[1])
        assert (network.usdc, network.usdc_name, network.usdc_version, network.decimals) == (
            usdc["asset"],
            usdc["name"],
            usdc["version"],
            usdc["decimals"],
        )
    assert NETWORKS[TESTNET].testnet and not NETWORKS[MAINNET].testnet
    assert AUTHORIZATION_TYPES == X402_AUTHORIZATION_TYPES


def test_payload_model_round_trip_is_the_packages() -> None:
    # Guards the claim that verify_payment parses with the package's own model.
    header, _ = payment_required(amount_micros=1, pay_to=PAY_TO, resource_url="u", description="d")
    offer = decode_payment_required_header(header).accepts[0]
    payload = PaymentPayload(payload={"authorization": {}}, accepted=offer)
    assert rejection(encode_payment_signature_header(payload), amount_micros=1).code == "malformed"
