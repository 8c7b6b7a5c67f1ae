"""Paying for Run402 calls with x402 v2: an httpx transport with spend controls.

The official `x402` package does the protocol: on a 402 it reads `PAYMENT-REQUIRED`,
signs an EIP-3009 USDC authorization (`exact` scheme) with the wallet key and retries
with `PAYMENT-SIGNATURE`. This module wraps it with what an unattended agent needs:

* one concrete network, Base Sepolia (`eip155:84532`) unless mainnet (`eip155:8453`) is
  asked for by name; an offer on any other network, asset or scheme is refused;
* a per-call cap and a per-run `Budget`, checked before anything is signed (an x402
  payment policy and a before-payment-creation hook). A refused call raises
  `CallCapExceeded` / `BudgetExceeded` / `PaymentTermsRefused` and the server never
  sees a signature. The budget is debited only when the server's `PAYMENT-RESPONSE`
  says `success: true`; in flight, the price is reserved so concurrent calls cannot
  overspend;
* `receipt_from_response(response)`: what was paid for this response, if anything;
* `decode_payment_error(response)`: a typed error for a 402, in particular the one that
  comes back *after* paying (the package returns it, it does not raise).

Usage::

    budget = Budget(limit_micros=500_000)  # $0.50 for this run
    async with paying_client(wallet.signer(), max_per_call_micros=100_000,
                             budget=budget, base_url=api) as http:
        r = await http.post("/v1/projects", json={...})
        if r.status_code == 402:
            raise decode_payment_error(r)
        receipt = receipt_from_response(r)

The errors, and the server → client error contract (which 402 code decodes to which
exception), are in `x402pay_errors`; the `exact` EIP-3009 scheme that signs is in
`x402pay_exact`. Their public names are re-exported here. A 402 without a
``PAYMENT-REQUIRED`` header is returned to the caller as a response, unpaid.

What pays is any account with an `address` and a 32-byte `key` (`PayingAccount`): a
`wallet.Wallet.signer()` or an eth-account `LocalAccount`.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from x402 import (
    NoMatchingRequirementsError,
    PaymentCreatedContext,
    PaymentCreationContext,
    PaymentResponseContext,
    x402Client,
)
from x402.client_base import (
    BeforePaymentCreationHook,
    OnPaymentResponseHook,
    PaymentPolicy,
    RequirementsView,
)
from x402.http.clients import httpx as x402_httpx

from .x402pay_errors import (
    BudgetExceeded,
    CallCapExceeded,
    InsufficientFunds,
    NonceReused,
    PaymentError,
    PaymentExpired,
    PaymentInvalid,
    PaymentRefused,
    PaymentTermsRefused,
    _atomic,
    _describe_offer,
    _payment_required,
    _settle_response,
    decode_payment_error,
)
from .x402pay_exact import _USDC, MAINNET, TESTNET, PayingAccount, _ExactScheme

__all__ = [
    "DEFAULT_NETWORK",
    "MAINNET",
    "RECEIPT_EXTENSION",
    "TESTNET",
    "Budget",
    "BudgetExceeded",
    "CallCapExceeded",
    "InsufficientFunds",
    "NonceReused",
    "PaymentError",
    "PaymentExpired",
    "PayingAccount",
    "PaymentInvalid",
    "PaymentReceipt",
    "PaymentRefused",
    "PaymentTermsRefused",
    "decode_payment_error",
    "paying_client",
    "paying_transport",
    "receipt_from_response",
]

DEFAULT_NETWORK: Final = TESTNET
_NETWORKS: Final = (TESTNET, MAINNET)

RECEIPT_EXTENSION: Final = "appwright.x402.receipt"
"""Key under which a paid response carries its `PaymentReceipt` in `response.extensions`."""


# --- budget ---------------------------------------------------------------------------


@dataclass(kw_only=True)
class Budget:
    """What one run may spend, in micro-USD (= USDC atomic units). Thread- and task-safe.

    `spent_micros` counts only payments the server confirmed. A payment in flight holds
    a reservation (`reserved_micros`) so that concurrent calls cannot together spend
    more than the limit; it becomes spent on success and is released otherwise.
    """

    limit_micros: int
    spent_micros: int = 0
    reserved_micros: int = field(default=0, init=False)
    _settled: set[str] = field(default_factory=set, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.limit_micros < 0 or self.spent_micros < 0:
            raise ValueError("limit_micros and spent_micros must be ≥ 0")

    @property
    def remaining_micros(self) -> int:
        """What a new payment may still use."""
        with self._lock:
            return self._remaining()

    def reserve(self, price_micros: int) -> None:
        """Hold `price_micros` for a payment about to be signed, or raise `BudgetExceeded`."""
        with self._lock:
            remaining = self._remaining()
            if price_micros > remaining:
                raise BudgetExceeded(price_micros, remaining)
            self.reserved_micros += price_micros

    def commit(self, price_micros: int, transaction: str | None = None) -> None:
        """The server confirmed a reserved payment: it is spent (once per transaction).

        A replayed answer (same Idempotency-Key) names the first call's transaction:
        if this budget already counted it, the reservation is only given back.
        """
        with self._lock:
            self.reserved_micros -= price_micros
            if transaction is not None and transaction in self._settled:
                return
            if transaction is not None:
                self._settled.add(transaction)
            self.spent_micros += price_micros

    def release(self, price_micros: int) -> None:
        """A reserved payment did not go through: give the amount back."""
        with self._lock:
            self.reserved_micros -= price_micros

    def _remaining(self) -> int:
        return max(0, self.limit_micros - self.spent_micros - self.reserved_micros)


# --- receipts -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PaymentReceipt:
    """A payment the server says it settled (`PAYMENT-RESPONSE` with `success: true`)."""

    payer: str
    transaction: str
    network: str
    amount_micros: int | None
    """What was signed; from the header's `amount` when the response did not go
    through `paying_transport`, and None if the server did not say."""


def receipt_from_response(response: httpx.Response) -> PaymentReceipt | None:
    """The receipt of the payment made for `response`, or None if nothing was paid."""
    attached = response.extensions.get(RECEIPT_EXTENSION)
    if isinstance(attached, PaymentReceipt):
        return attached
    settled = _settle_response(response.headers)
    if settled is None or not settled.success:
        return None
    return PaymentReceipt(
        payer=settled.payer or "",
        transaction=settled.transaction,
        network=settled.network,
        amount_micros=_atomic(settled.amount),
    )


# --- the transport --------------------------------------------------------------------


def paying_transport(
    account: PayingAccount,
    *,
    max_per_call_micros: int,
    budget: Budget | None = None,
    network: str = DEFAULT_NETWORK,
    inner: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncBaseTransport:
    """An httpx transport that pays 402s with `account`, within the cap and the budget.

    `network` is the one network this transport pays on; mainnet only if named here.
    `inner` is the transport that does the HTTP (default: `httpx.AsyncHTTPTransport()`).
    """
    if network not in _NETWORKS:
        raise ValueError(f"unsupported network {network!r}; use {TESTNET} or {MAINNET}")
    if max_per_call_micros <= 0:
        raise ValueError("max_per_call_micros must be > 0")
    usdc = _USDC[network]["asset"]
    client = x402Client()
    client.register(network, _ExactScheme(account))
    # Our own cap below is typed and exact; the package's cap would filter the offer
    # out first and raise an untyped "no matching requirements". Its default-asset
    # allowlist stays on.
    client.set_spend_controls({"max_amount_per_payment": False})
    client.register_policy(_terms_policy(network=network, usdc=usdc, cap=max_per_call_micros))
    client.on_before_payment_creation(_reserve_hook(budget))
    client.on_after_payment_creation(_signed_hook)
    client.on_payment_response(_settled_hook(budget))
    recorder = _Recorder(inner or httpx.AsyncHTTPTransport())
    paying = x402_httpx.x402AsyncTransport(client, transport=recorder)
    return _PayingTransport(paying, budget=budget, network=network)


def paying_client(
    account: PayingAccount,
    *,
    max_per_call_micros: int,
    budget: Budget | None = None,
    network: str = DEFAULT_NETWORK,
    inner: httpx.AsyncBaseTransport | None = None,
    **httpx_kwargs: Any,
) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` over `paying_transport(...)`; extra kwargs go to the client."""
    transport = paying_transport(
        account,
        max_per_call_micros=max_per_call_micros,
        budget=budget,
        network=network,
        inner=inner,
    )
    return httpx.AsyncClient(transport=transport, **httpx_kwargs)




@dataclass(kw_only=True)
class _Attempt:
    """What happened while one request went through the transport."""

    reserved: list[int] = field(default_factory=list)
    signed: bool = False
    receipt: PaymentReceipt | None = None
    last_response: httpx.Response | None = None


# The x402 hooks get no request object: they find the current request's attempt here.
# Hooks run in the task that awaits the transport, so each request sees its own.
_ATTEMPT: ContextVar[_Attempt | None] = ContextVar("appwright_x402_attempt", default=None)


class _Recorder(httpx.AsyncBaseTransport):
    """Under x402's transport: keeps the last raw response of the attempt."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        attempt = _ATTEMPT.get()
        if attempt is not None:
            attempt.last_response = response
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _PayingTransport(httpx.AsyncBaseTransport):
    """Over x402's transport: scopes an attempt, settles the budget, attaches the receipt."""

    def __init__(
        self, paying: x402_httpx.x402AsyncTransport, *, budget: Budget | None, network: str
    ) -> None:
        self._paying = paying
        self._budget = budget
        self._network = network

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempt = _Attempt()
        token = _ATTEMPT.set(attempt)
        try:
            response = await self._paying.handle_async_request(request)
        except x402_httpx.PaymentError as e:
            response = _unwrap(e, attempt, network=self._network)
        finally:
            _ATTEMPT.reset(token)
            self._release(attempt)
        if attempt.receipt is not None:
            response.extensions[RECEIPT_EXTENSION] = attempt.receipt
        return response

    def _release(self, attempt: _Attempt) -> None:
        if self._budget is None:
            return
        for price in attempt.reserved:
            self._budget.release(price)
        attempt.reserved.clear()

    async def aclose(self) -> None:
        await self._paying.aclose()


def _unwrap(error: x402_httpx.PaymentError, attempt: _Attempt, *, network: str) -> httpx.Response:
    """Turn x402's catch-all `PaymentError("Failed to handle payment: …")` into ours.

    The package wraps every exception raised while paying, our own typed refusals
    included; a 402 it cannot parse (no `PAYMENT-REQUIRED`, e.g. a quota 402) is given
    back to the caller as a response, since nothing was signed for it.
    """
    cause = error.__cause__
    if isinstance(cause, PaymentRefused):
        raise cause from None
    last = attempt.last_response
    required = _payment_required(last.headers) if last is not None else None
    if isinstance(cause, NoMatchingRequirementsError):
        message = _describe_offer(required, network=network, fallback=str(cause))
        raise PaymentTermsRefused(message, payment_required=required) from None
    if not attempt.signed and last is not None and last.status_code == 402 and required is None:
        return last
    raise error


# --- the x402 policy and hooks --------------------------------------------------------


def _terms_policy(*, network: str, usdc: str, cap: int) -> PaymentPolicy:
    """x402 payment policy: keep USDC `exact` offers on our network within the cap."""

    def policy(version: int, offers: list[RequirementsView]) -> list[RequirementsView]:
        ours = [
            offer
            for offer in offers
            if version == 2
            and offer.scheme == "exact"
            and offer.network == network
            and offer.asset.lower() == usdc.lower()
            and _atomic(offer.get_amount()) is not None
        ]
        if not ours:
            raise PaymentTermsRefused(f"No USDC 'exact' offer on {network} in the server's terms.")
        within = [offer for offer in ours if _price(offer) <= cap]
        if not within:
            raise CallCapExceeded(min(_price(offer) for offer in ours), cap)
        return within

    return policy


def _reserve_hook(budget: Budget | None) -> BeforePaymentCreationHook:
    """x402 before-payment-creation hook: reserve the price, or refuse before signing."""

    def before(context: PaymentCreationContext) -> None:
        if budget is None:
            return
        price = _price(context.selected_requirements)
        budget.reserve(price)  # raises BudgetExceeded
        attempt = _ATTEMPT.get()
        if attempt is not None:
            attempt.reserved.append(price)

    return before


def _signed_hook(context: PaymentCreatedContext) -> None:
    """x402 after-payment-creation hook: from here on a signature exists."""
    attempt = _ATTEMPT.get()
    if attempt is not None:
        attempt.signed = True


def _settled_hook(budget: Budget | None) -> OnPaymentResponseHook:
    """x402 payment-response hook: debit the budget and keep the receipt on success.

    Must return None: any other value makes the package sign and pay a second time.
    """

    def on_response(context: PaymentResponseContext) -> None:
        settled = context.settle_response
        if settled is None or not settled.success:
            return None
        price = _price(context.requirements)
        attempt = _ATTEMPT.get()
        if budget is not None and attempt is not None and price in attempt.reserved:
            attempt.reserved.remove(price)
            budget.commit(price, settled.transaction)
        if attempt is not None:
            attempt.receipt = PaymentReceipt(
                payer=settled.payer or _payer_of(context),
                transaction=settled.transaction,
                network=settled.network,
                amount_micros=price,
            )
        return None

    return on_response


def _payer_of(context: PaymentResponseContext) -> str:
    authorization = context.payment_payload.payload.get("authorization") or {}
    return str(authorization.get("from", ""))



def _price(requirements: RequirementsView) -> int:
    amount = _atomic(requirements.get_amount())
    if amount is None:
        raise PaymentTermsRefused(f"Price {requirements.get_amount()!r} is not an integer amount.")
    return amount


