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

Server → client error contract
------------------------------
A server that rejects a payment answers **402** with a JSON body
``{"error": <code>, "message": <human text>, ...}`` and puts the same code in the
``error`` field of its ``PAYMENT-REQUIRED`` header (the sandbox builds both with
`appwright.sandbox.x402.payment_required(error=..., message=...)`). A settlement
failure may instead carry a ``PAYMENT-RESPONSE`` header with ``success: false`` and
``errorReason``. Codes, and the exception `decode_payment_error` returns:

====================  =====================================================  ===================
code                  meaning                                                exception
====================  =====================================================  ===================
insufficient_funds    payer's balance is below the price                     InsufficientFunds
nonce_reused          this (payer, nonce) was already accepted               NonceReused
expired               validBefore < now + 6 s                                PaymentExpired
not_yet_valid         validAfter > now                                       PaymentInvalid
invalid_signature     does not recover to authorization.from                 PaymentInvalid
wrong_pay_to          authorization.to is not the server's payTo             PaymentInvalid
insufficient_amount   authorization.value < price                            PaymentInvalid
wrong_amount          authorization.value > price (`exact` means exact)      PaymentInvalid
wrong_network         paid on another network than the server takes          PaymentInvalid
wrong_asset           the asset is not the network's USDC                    PaymentInvalid
unsupported_scheme    not `exact` + EIP-3009                                 PaymentInvalid
malformed             PAYMENT-SIGNATURE does not decode                      PaymentInvalid
payment_required      a plain challenge (or no code): nothing paid yet       PaymentError
====================  =====================================================  ===================

The official facilitator's codes (``invalid_exact_evm_insufficient_balance``,
``invalid_exact_evm_nonce_already_used``, ``…_valid_before``, other ``invalid_…``) map to
the same classes, so errors from the hosted service decode the same way. Any other code
(e.g. a quota 402) decodes as a plain `PaymentError` carrying that code. A 402 without a
``PAYMENT-REQUIRED`` header is returned to the caller as a response, unpaid.

What pays is any account with an `address` and a 32-byte `key` (`PayingAccount`): a
`wallet.Wallet.signer()` or an eth-account `LocalAccount`. The `exact` EIP-3009 payment
is built here (`_ExactScheme`, the same payload and signature as the package's
`ExactEvmScheme`, pinned by tests): importing any part of `x402.mechanisms.evm` loads
web3 and eth-account (~0.9 s), so that package is loaded only for a Permit2 offer.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

import httpx
from coincurve import PrivateKey
from x402 import (
    NoMatchingRequirementsError,
    PaymentCreatedContext,
    PaymentCreationContext,
    PaymentRequired,
    PaymentRequirements,
    PaymentResponseContext,
    SettleResponse,
    x402Client,
)
from x402.client_base import (
    BeforePaymentCreationHook,
    OnPaymentResponseHook,
    PaymentPolicy,
    RequirementsView,
)
from x402.http.clients import httpx as x402_httpx
from x402.http.constants import (
    PAYMENT_REQUIRED_HEADER,
    PAYMENT_RESPONSE_HEADER,
    X_PAYMENT_RESPONSE_HEADER,
)
from x402.http.utils import decode_payment_required_header, decode_payment_response_header

from . import eip3009

if TYPE_CHECKING:  # x402.mechanisms.evm loads web3 and eth-account: only Permit2 needs it
    from x402.mechanisms.evm.exact.client import ExactEvmScheme
    from x402.mechanisms.evm.signers import EthAccountSigner
    from x402.mechanisms.evm.types import TypedDataDomain, TypedDataField

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

TESTNET: Final = "eip155:84532"
MAINNET: Final = "eip155:8453"
DEFAULT_NETWORK: Final = TESTNET
_NETWORKS: Final = (TESTNET, MAINNET)

RECEIPT_EXTENSION: Final = "appwright.x402.receipt"
"""Key under which a paid response carries its `PaymentReceipt` in `response.extensions`."""

_USDC: Final[Mapping[str, dict[str, Any]]] = {
    MAINNET: {
        "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        "name": "USD Coin",
        "version": "2",
        "decimals": 6,
        "symbol": "USDC",
    },
    TESTNET: {
        "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        "name": "USDC",
        "version": "2",
        "decimals": 6,
        "symbol": "USDC",
    },
}
"""x402's default asset of each network we pay on (its `DEFAULT_ASSETS` entries, pinned
by a test); read from the package, they would cost the import of web3."""


class PayingAccount(Protocol):
    """What pays: a checksummed address and its 32-byte secp256k1 private key."""

    @property
    def address(self) -> str:
        """The checksummed address."""
        ...

    @property
    def key(self) -> bytes:
        """The private key."""
        ...


# --- refusals (nothing was signed) ----------------------------------------------------


class PaymentRefused(Exception):
    """This client refused to pay; nothing was signed and nothing was sent."""


class BudgetExceeded(PaymentRefused):
    """The price is more than what is left of the run's budget."""

    def __init__(self, price_micros: int, remaining_micros: int) -> None:
        super().__init__(
            f"Refused to pay {_usd(price_micros)}: only {_usd(remaining_micros)} "
            "left in this run's budget."
        )
        self.price_micros = price_micros
        self.remaining_micros = remaining_micros


class CallCapExceeded(PaymentRefused):
    """The price is more than the per-call cap."""

    def __init__(self, price_micros: int, cap_micros: int) -> None:
        super().__init__(
            f"Refused to pay {_usd(price_micros)}: the per-call cap is {_usd(cap_micros)}."
        )
        self.price_micros = price_micros
        self.cap_micros = cap_micros


class PaymentTermsRefused(PaymentRefused):
    """The server asks for a payment this client does not make (network, asset, scheme)."""

    def __init__(self, message: str, *, payment_required: PaymentRequired | None = None) -> None:
        super().__init__(message)
        self.payment_required = payment_required


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


class _ExactScheme:
    """x402's `exact` scheme client for one EVM network (an x402 `SchemeNetworkClient`).

    An EIP-3009 offer (USDC's, the only kind the sandbox and Run402 make) is paid here:
    the same payload as the package's `ExactEvmScheme` makes — a random 32-byte nonce,
    valid from 0 to now + the offer's timeout, the token's EIP-712 name and version
    from the offer's `extra` or else the default asset's — signed with `eip3009`. A
    Permit2 offer goes to the package's scheme, loaded then.
    """

    scheme: Final = "exact"

    def __init__(self, account: PayingAccount) -> None:
        self._signer = _TransferSigner(account)
        self._permit2: ExactEvmScheme | None = None

    @staticmethod
    def find_default_asset(asset: str, network: str) -> dict[str, Any] | None:
        """The default asset entry for `asset` on `network`, as x402's own lookup gives it."""
        entry = _USDC.get(network)
        return entry if entry is not None and entry["asset"].lower() == asset.lower() else None

    def create_payment_payload(
        self, requirements: PaymentRequirements, extensions: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The signed inner payload (authorization + signature) for `requirements`."""
        extra = requirements.extra or {}
        if extra.get("assetTransferMethod") == "permit2":
            return self._package_scheme().create_payment_payload(requirements, extensions)
        chain_id = _chain_id(str(requirements.network))
        name, version = self._token_domain(requirements, extra)
        nonce = os.urandom(32)
        valid_before = int(time.time()) + (requirements.max_timeout_seconds or 3600)
        digest = eip3009.transfer_digest(
            domain=eip3009.domain_separator(name, version, chain_id, requirements.asset),
            from_address=self._signer.address,
            to=requirements.pay_to,
            value=int(requirements.amount),
            valid_after=0,
            valid_before=valid_before,
            nonce=nonce,
        )
        authorization = {
            "from": self._signer.address,
            "to": requirements.pay_to,
            "value": requirements.amount,
            "validAfter": "0",
            "validBefore": str(valid_before),
            "nonce": "0x" + nonce.hex(),
        }
        signature = self._signer.sign_transfer(digest)
        return {"authorization": authorization, "signature": "0x" + signature.hex()}

    def _token_domain(self, requirements: PaymentRequirements, extra: dict[str, Any]) -> tuple[str, str]:
        # As the package does: a missing name comes from the default asset, written into
        # the offer's own `extra` (which travels back to the server in `accepted`).
        if "name" not in extra:
            known = self.find_default_asset(requirements.asset, str(requirements.network))
            if known is None:
                raise ValueError("EIP-712 domain parameters (name, version) required in extra")
            extra["name"] = known["name"]
            extra["version"] = known.get("version", "1")
        return extra["name"], extra.get("version", "1")

    def _package_scheme(self) -> ExactEvmScheme:
        if self._permit2 is None:
            from x402.mechanisms.evm.exact.client import ExactEvmScheme

            self._permit2 = ExactEvmScheme(signer=self._signer)
        return self._permit2


def _chain_id(network: str) -> int:
    """The chain id of a CAIP-2 `eip155:<id>` network."""
    prefix, _, number = network.partition(":")
    if prefix != "eip155" or not number.isdigit():
        raise ValueError(f"Unsupported network format: {network} (expected eip155:CHAIN_ID)")
    return int(number)


class _TransferSigner:
    """x402's EVM signer for `account`, with a short way for the one struct it signs.

    An `exact` USDC payment signs an EIP-3009 `TransferWithAuthorization`: its digest
    is computed directly and signed with libsecp256k1 (`eip3009`), the same signature
    eth-account makes, ten times faster. Any other typed data (Permit2's) goes to
    eth-account, loaded then.
    """

    def __init__(self, account: PayingAccount) -> None:
        self._address = account.address
        self._key = PrivateKey(bytes(account.key))
        self._fallback: EthAccountSigner | None = None

    @property
    def address(self) -> str:
        """The signer's checksummed address."""
        return self._address

    def sign_transfer(self, digest: bytes) -> bytes:
        """A 65-byte signature (r, s, v) of a `TransferWithAuthorization` digest."""
        return eip3009.sign_digest(self._key, digest)

    def sign_typed_data(
        self,
        domain: TypedDataDomain,
        types: dict[str, list[TypedDataField]],
        primary_type: str,
        message: dict[str, Any],
    ) -> bytes:
        """A 65-byte signature (r, s, v) of the EIP-712 typed data."""
        if not _is_transfer(domain, types, primary_type):
            return self._eth_account().sign_typed_data(domain, types, primary_type, message)
        digest = eip3009.transfer_digest(
            domain=eip3009.domain_separator(
                domain.name, domain.version, domain.chain_id, domain.verifying_contract
            ),
            from_address=message["from"],
            to=message["to"],
            value=int(message["value"]),
            valid_after=int(message["validAfter"]),
            valid_before=int(message["validBefore"]),
            nonce=_bytes32(message["nonce"]),
        )
        return self.sign_transfer(digest)

    def _eth_account(self) -> EthAccountSigner:
        if self._fallback is None:
            from eth_account import Account
            from x402.mechanisms.evm.signers import EthAccountSigner

            self._fallback = EthAccountSigner(Account.from_key(self._key.secret))
        return self._fallback


def _bytes32(value: bytes | str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)


def _is_transfer(
    domain: TypedDataDomain, types: dict[str, list[TypedDataField]], primary_type: str
) -> bool:
    """Exactly the EIP-3009 struct under a (name, version, chainId, contract) domain?"""
    # Only the package's own scheme calls this, so its types module is loaded already.
    from x402.mechanisms.evm.types import TypedDataDomain, TypedDataField

    if primary_type != eip3009.PRIMARY_TYPE or not isinstance(domain, TypedDataDomain):
        return False
    if set(types) - {"EIP712Domain"} != {primary_type}:
        return False
    fields = tuple(
        (f.name, f.type) if isinstance(f, TypedDataField) else (f.get("name"), f.get("type"))
        for f in types[primary_type]
    )
    return fields == eip3009.TRANSFER_FIELDS


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


# --- errors that come back as a 402 ---------------------------------------------------


class PaymentError(Exception):
    """A 402 answer: the server wants a payment, or refused the one it got."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        server_message: str = "",
        payment_required: PaymentRequired | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.server_message = server_message
        self.payment_required = payment_required
        """The server's terms from `PAYMENT-REQUIRED`, when it sent them."""


class InsufficientFunds(PaymentError):
    """The wallet does not hold enough USDC (or sandbox balance) for the price."""


class NonceReused(PaymentError):
    """The server already accepted this signed authorization once."""


class PaymentExpired(PaymentError):
    """The authorization's validity window closed before the server checked it."""


class PaymentInvalid(PaymentError):
    """The server found the payment wrong: signature, recipient, amount, network…"""


_CODE_CLASSES: Final[Mapping[str, type[PaymentError]]] = {
    "insufficient_funds": InsufficientFunds,
    "insufficient_balance": InsufficientFunds,
    "invalid_exact_evm_insufficient_balance": InsufficientFunds,
    "permit2_insufficient_balance": InsufficientFunds,
    "nonce_reused": NonceReused,
    "nonce_already_used": NonceReused,
    "invalid_exact_evm_nonce_already_used": NonceReused,
    "expired": PaymentExpired,
    "invalid_exact_evm_payload_authorization_valid_before": PaymentExpired,
    "permit2_deadline_expired": PaymentExpired,
    "not_yet_valid": PaymentInvalid,
    "invalid_signature": PaymentInvalid,
    "wrong_pay_to": PaymentInvalid,
    "insufficient_amount": PaymentInvalid,
    "wrong_amount": PaymentInvalid,
    "wrong_network": PaymentInvalid,
    "wrong_asset": PaymentInvalid,
    "unsupported_scheme": PaymentInvalid,
    "malformed": PaymentInvalid,
    "network_mismatch": PaymentInvalid,
}


def decode_payment_error(response: httpx.Response) -> PaymentError:
    """The typed error for a 402 `response` (raise it, or inspect `.code`).

    Reads the code from the JSON body's `error`, else a failed `PAYMENT-RESPONSE`'s
    `errorReason`, else the `PAYMENT-REQUIRED` header's `error`. Raises `ValueError`
    if `response` is not a 402.
    """
    if response.status_code != 402:
        raise ValueError(f"not a payment error: HTTP {response.status_code}")
    required = _payment_required(response.headers)
    body = _json_object(response)
    settled = _settle_response(response.headers)
    failed = settled if settled is not None and not settled.success else None
    code = (
        _text(body.get("error"))
        or (failed.error_reason if failed else None)
        or (required.error if required else None)
        or ""
    ).strip()
    server_message = (
        _text(body.get("message")) or (failed.error_message if failed else None) or ""
    ).strip()
    cls = _class_for(code)
    return cls(
        _explain(cls, code=code, server_message=server_message, required=required),
        code=code or "payment_required",
        server_message=server_message,
        payment_required=required,
    )


def _class_for(code: str) -> type[PaymentError]:
    normalized = code.lower()
    if normalized in _CODE_CLASSES:
        return _CODE_CLASSES[normalized]
    if normalized.startswith("invalid_"):
        return PaymentInvalid
    return PaymentError


def _explain(
    cls: type[PaymentError], *, code: str, server_message: str, required: PaymentRequired | None
) -> str:
    said = f" (server: {server_message})" if server_message else ""
    price = _describe_price(required)
    if cls is InsufficientFunds:
        return (
            f"The wallet does not have enough USDC to pay{price}{said}. "
            "Run `appwright wallet fund` to top it up, then retry."
        )
    if cls is NonceReused:
        return (
            f"This signed payment was already used, so it was not accepted again{said}. "
            "Retry the request to sign a fresh one; send an Idempotency-Key so a retry "
            "cannot pay twice."
        )
    if cls is PaymentExpired:
        return f"The signed payment expired before the server checked it{said}. Retry the request."
    if cls is PaymentInvalid:
        return f"The server rejected the payment: {code}{said}."
    if code in ("", "payment_required"):
        return f"Payment required:{price}{said}."
    return f"Payment failed: {code}{said}."


def _describe_price(required: PaymentRequired | None) -> str:
    if required is None or not required.accepts:
        return ""
    offer = required.accepts[0]
    amount = _atomic(offer.amount)
    shown = _usd(amount) if amount is not None else repr(offer.amount)
    return f" {shown} on {offer.network}"


def _describe_offer(required: PaymentRequired | None, *, network: str, fallback: str) -> str:
    if required is None or not required.accepts:
        return f"The server's payment terms cannot be met: {fallback}"
    offers = "; ".join(
        f"{offer.scheme} {offer.amount} of {offer.asset} on {offer.network}"
        for offer in required.accepts
    )
    hint = f" (pass network={MAINNET!r} to pay on mainnet)" if network != MAINNET else ""
    return (
        f"The server asks for a payment this client does not make: {offers}. "
        f"This client pays USDC on {network} only{hint}."
    )


# --- small decoders -------------------------------------------------------------------


def _payment_required(headers: httpx.Headers) -> PaymentRequired | None:
    value = headers.get(PAYMENT_REQUIRED_HEADER)
    if not value:
        return None
    try:
        decoded = decode_payment_required_header(value)
    except (ValueError, TypeError, AttributeError):  # binascii, JSON, pydantic: ValueErrors
        return None
    return decoded if isinstance(decoded, PaymentRequired) else None


def _settle_response(headers: httpx.Headers) -> SettleResponse | None:
    value = headers.get(PAYMENT_RESPONSE_HEADER) or headers.get(X_PAYMENT_RESPONSE_HEADER)
    if not value:
        return None
    try:
        return decode_payment_response_header(value)
    except (ValueError, TypeError):
        return None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = json.loads(response.content or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError, httpx.ResponseNotRead):
        return {}
    return data if isinstance(data, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _atomic(amount: str | None) -> int | None:
    if isinstance(amount, str) and amount.isascii() and amount.isdigit():
        return int(amount)
    return None


def _price(requirements: RequirementsView) -> int:
    amount = _atomic(requirements.get_amount())
    if amount is None:
        raise PaymentTermsRefused(f"Price {requirements.get_amount()!r} is not an integer amount.")
    return amount


def _usd(micros: int) -> str:
    if micros % 10_000 == 0:  # whole cents: "$0.10"
        return f"${micros / 1_000_000:,.2f}"
    return f"${micros / 1_000_000:,.6f}".rstrip("0")
