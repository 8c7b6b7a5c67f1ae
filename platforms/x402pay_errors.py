"""The payment errors of `x402pay`: its refusals, and the 402s that come back.

Two families, both raised to the caller of a paying client:

* `PaymentRefused` (`BudgetExceeded`, `CallCapExceeded`, `PaymentTermsRefused`): this
  client refused to pay; nothing was signed and the server never saw a signature;
* `PaymentError` (`InsufficientFunds`, `NonceReused`, `PaymentExpired`,
  `PaymentInvalid`): the server answered 402, asking for a payment or refusing the one
  it got; `decode_payment_error(response)` builds the typed error from the response.

The small decoders of x402's headers and amounts used by the paying transport live
here too (`_payment_required`, `_settle_response`, `_atomic`, `_usd`).

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
(e.g. a quota 402) decodes as a plain `PaymentError` carrying that code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import httpx
from x402 import PaymentRequired, SettleResponse
from x402.http.constants import (
    PAYMENT_REQUIRED_HEADER,
    PAYMENT_RESPONSE_HEADER,
    X_PAYMENT_RESPONSE_HEADER,
)
from x402.http.utils import decode_payment_required_header, decode_payment_response_header

from .x402pay_exact import MAINNET

__all__ = [
    "BudgetExceeded", "CallCapExceeded", "PaymentRefused", "PaymentTermsRefused",  # refusals
    "InsufficientFunds", "NonceReused", "PaymentError", "PaymentExpired", "PaymentInvalid",  # 402s
    "decode_payment_error",
]


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



def _usd(micros: int) -> str:
    if micros % 10_000 == 0:  # whole cents: "$0.10"
        return f"${micros / 1_000_000:,.2f}"
    return f"${micros / 1_000_000:,.6f}".rstrip("0")
