"""x402 v2 (`exact` scheme, EIP-3009 USDC) for the sandbox: challenge, verify, receipt.

The sandbox answers a paid route the way the hosted Run402 service does, but verifies
payments locally: no RPC, no facilitator. A client pays by signing an EIP-712
`TransferWithAuthorization`; we recover the signer (`appwright.platforms.eip3009`:
the struct's digest and libsecp256k1, no eth-account) and check every signed field
against what the route asks for. Moving money is the caller's business
(the sandbox's balance ledger): this module is pure, with no I/O and no clock other
than `time.time()` when `now` is not given.

The wire formats come from the official `x402` package (its pydantic models and header
encoders), so what we send and parse is exactly what its client sends and parses (the
package loads at the first paid call, ~40 ms, not at start-up):

* `payment_required(...)` -> the `PAYMENT-REQUIRED` header value and the same object as a
  dict for the 402 JSON body;
* `verify_payment(header, ...)` -> a `VerifiedPayment`, or raises `PaymentRejected` whose
  `code` the server returns to the client (see the table in
  `appwright.platforms.x402pay_errors`);
* `payment_response(...)` -> the `PAYMENT-RESPONSE` header value of a settled payment.

What the caller still owes the protocol, in the same transaction as the paid work:
accept each `(payer, nonce)` once (answer `nonce_reused` otherwise) and debit the payer's
balance (answer `insufficient_funds`). `VerifiedPayment.nonce` is canonical (lowercase
hex) and `payer` is checksummed, so together they are a unique key as they are.
"""

from __future__ import annotations

import binascii
import json
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from x402.schemas import PaymentPayload, PaymentRequirements

__all__ = [
    "AUTHORIZATION_TYPES",
    "DEFAULT_NETWORK",
    "MAX_TIMEOUT_SECONDS",
    "MIN_VALIDITY_SECONDS",
    "NETWORKS",
    "Network",
    "PaymentRejected",
    "RejectionCode",
    "VerifiedPayment",
    "payment_required",
    "payment_response",
    "pseudo_transaction",
    "verify_payment",
]


@dataclass(frozen=True, kw_only=True)
class Network:
    """An EVM network we take USDC on, with the token's EIP-712 domain."""

    id: str
    """CAIP-2 id, e.g. `eip155:84532`."""
    chain_id: int
    label: str
    usdc: str
    """USDC contract address (checksummed): the EIP-712 `verifyingContract`."""
    usdc_name: str
    """EIP-712 domain `name`; a wrong one makes every signature invalid."""
    usdc_version: str
    decimals: int = 6
    testnet: bool


NETWORKS: Final[dict[str, Network]] = {
    "eip155:84532": Network(
        id="eip155:84532",
        chain_id=84532,
        label="Base Sepolia",
        usdc="0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        usdc_name="USDC",
        usdc_version="2",
        testnet=True,
    ),
    "eip155:8453": Network(
        id="eip155:8453",
        chain_id=8453,
        label="Base",
        usdc="0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        usdc_name="USD Coin",
        usdc_version="2",
        testnet=False,
    ),
}
DEFAULT_NETWORK: Final = "eip155:84532"

MAX_TIMEOUT_SECONDS: Final = 300
"""Advertised `maxTimeoutSeconds`; the official client signs `validBefore = now + this`."""
MIN_VALIDITY_SECONDS: Final = 6
"""`validBefore` must be at least this far ahead, as the official facilitator requires."""

_MAX_HEADER_CHARS: Final = 16_384  # a real payload is ~1.2 kB; refuse to parse junk
_SECP256K1_HALF_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 // 2
# EIP-3009's typed struct, fixed by the USDC contract. Spelled out here rather than
# imported: x402.mechanisms.evm pulls in web3 (+0.25 s at import); a test pins it to
# x402's own AUTHORIZATION_TYPES.
AUTHORIZATION_TYPES: Final[dict[str, list[dict[str, str]]]] = {
    "TransferWithAuthorization": [
        {"name": "from", "type": "address"},
        {"name": "to", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "validAfter", "type": "uint256"},
        {"name": "validBefore", "type": "uint256"},
        {"name": "nonce", "type": "bytes32"},
    ]
}
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_NONCE = re.compile(r"^0x[0-9a-fA-F]{64}$")
_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{130}$")
_UINT = re.compile(r"^[0-9]{1,78}$")

RejectionCode = Literal[
    "malformed",
    "unsupported_scheme",
    "wrong_network",
    "wrong_asset",
    "wrong_pay_to",
    "insufficient_amount",
    "wrong_amount",
    "expired",
    "not_yet_valid",
    "invalid_signature",
]


class PaymentRejected(Exception):
    """The `PAYMENT-SIGNATURE` does not pay for this route; answer 402 with `code`."""

    def __init__(self, code: RejectionCode, message: str, *, payer: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code: RejectionCode = code
        self.message = message
        self.payer = payer
        """The claimed payer, when the payload got far enough to name one (unverified)."""


@dataclass(frozen=True, kw_only=True)
class VerifiedPayment:
    """A correctly signed authorization for exactly the required amount."""

    payer: str
    """Recovered signer, checksummed."""
    pay_to: str
    amount_micros: int
    nonce: str
    """The EIP-3009 nonce, lowercase `0x` + 64 hex: with `payer`, the replay key."""
    network: str
    valid_before: int
    """Unix seconds; the authorization is worthless on chain after this."""


def payment_required(
    *,
    amount_micros: int,
    pay_to: str,
    resource_url: str,
    description: str,
    network: str = DEFAULT_NETWORK,
    error: str | None = None,
    message: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """Build a 402 challenge: (`PAYMENT-REQUIRED` header value, the same object as a dict).

    `error` is a machine code (e.g. a `PaymentRejected.code`, `nonce_reused`,
    `insufficient_funds`); `message`, when given, is added to the body dict only (the
    protocol object has no field for it) so a human or an agent can read what to do.
    """
    _check_amount_argument(amount_micros)  # before the cache: True == 1 as a key
    header, body_json = _challenge(amount_micros, pay_to, resource_url, description, network, error)
    body: dict[str, Any] = json.loads(body_json)  # a fresh dict: the caller may add to it
    if message is not None:
        body["message"] = message
    return header, body


@lru_cache(maxsize=512)
def _challenge(
    amount_micros: int, pay_to: str, resource_url: str, description: str, network: str,
    error: str | None,
) -> tuple[str, str]:
    # A route asks the same thing of every caller: build and encode its terms once.
    from x402.http.utils import encode_payment_required_header
    from x402.schemas import PaymentRequired, ResourceInfo

    challenge = PaymentRequired(
        x402_version=2,
        error=error,
        resource=ResourceInfo(
            url=resource_url, description=description, mime_type="application/json"
        ),
        accepts=[_requirements(amount_micros=amount_micros, pay_to=pay_to, network=network)],
    )
    body = challenge.model_dump(mode="json", by_alias=True, exclude_none=True)
    return encode_payment_required_header(challenge), json.dumps(body)


def verify_payment(
    header_value: str,
    *,
    amount_micros: int,
    pay_to: str,
    network: str = DEFAULT_NETWORK,
    now: float | None = None,
) -> VerifiedPayment:
    """Check a `PAYMENT-SIGNATURE` header against what the route asks for.

    Raises `PaymentRejected` (client's fault, answer 402) or `ValueError` (the
    arguments themselves are wrong: the server's fault). Does not look at nonces
    already used: that needs the database.
    """
    net = _network(network)
    expected_to = _checksum(pay_to, what="pay_to")
    _check_amount_argument(amount_micros)
    payload = _decode(header_value)
    _check_terms(payload, net)
    authorization, signature = _authorization(payload.payload)
    payer = _eip3009().checksum_address(authorization["from"])
    _check_transfer(
        authorization, expected_to=expected_to, amount_micros=amount_micros, payer=payer
    )
    valid_before = _check_window(
        authorization, now=time.time() if now is None else now, payer=payer
    )
    _check_signature(authorization, signature, net=net, payer=payer)
    return VerifiedPayment(
        payer=payer,
        pay_to=expected_to,
        amount_micros=amount_micros,
        nonce=authorization["nonce"].lower(),
        network=net.id,
        valid_before=valid_before,
    )


def payment_response(
    *,
    payer: str,
    transaction: str,
    network: str,
    amount_micros: int | None = None,
) -> str:
    """The `PAYMENT-RESPONSE` header value of a settled payment (`success: true`)."""
    from x402.http.utils import encode_payment_response_header
    from x402.schemas import SettleResponse

    settled = SettleResponse(
        success=True,
        payer=payer,
        transaction=transaction,
        network=network,
        amount=None if amount_micros is None else str(amount_micros),
    )
    return encode_payment_response_header(settled)


def pseudo_transaction(payment: VerifiedPayment) -> str:
    """A stable tx-hash-shaped id for a payment settled off chain.

    Derived from (network, payer, nonce), so a retried settlement reports the same id.
    """
    seed = f"appwright-sandbox:{payment.network}:{payment.payer.lower()}:{payment.nonce}"
    return "0x" + _eip3009().keccak256(seed.encode()).hex()


# --- building the challenge ---------------------------------------------------------


def _requirements(*, amount_micros: int, pay_to: str, network: str) -> PaymentRequirements:
    net = _network(network)
    _check_amount_argument(amount_micros)
    from x402.schemas import PaymentRequirements

    return PaymentRequirements(
        scheme="exact",
        network=net.id,
        asset=net.usdc,
        amount=str(amount_micros),
        pay_to=_checksum(pay_to, what="pay_to"),
        max_timeout_seconds=MAX_TIMEOUT_SECONDS,
        # name/version are the EIP-712 domain the client must sign with.
        extra={"name": net.usdc_name, "version": net.usdc_version},
    )


def _network(network: str) -> Network:
    try:
        return NETWORKS[network]
    except KeyError:
        known = ", ".join(NETWORKS)
        raise ValueError(f"unknown network {network!r}; known: {known}") from None


def _checksum(address: str, *, what: str) -> str:
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise ValueError(f"{what} must be a 0x-prefixed 20-byte hex address, got {address!r}")
    return _checksummed(address)


@lru_cache(maxsize=256)
def _checksummed(address: str) -> str:
    # A route's payTo is the same address on every call: hash it once.
    return _eip3009().checksum_address(address)


def _eip3009() -> ModuleType:
    # Loaded at the first payment (keccak and libsecp256k1 bindings: ~40 ms), not at start-up.
    from appwright.platforms import eip3009

    return eip3009


def _check_amount_argument(amount_micros: int) -> None:
    # bool is an int: refuse it, it is always a bug here.
    if isinstance(amount_micros, bool) or not isinstance(amount_micros, int) or amount_micros <= 0:
        raise ValueError(f"amount_micros must be a positive int, got {amount_micros!r}")


# --- verifying a payment --------------------------------------------------------------


def _decode(header_value: str) -> PaymentPayload:
    if not header_value or len(header_value) > _MAX_HEADER_CHARS:
        raise PaymentRejected("malformed", "PAYMENT-SIGNATURE is empty or too long")
    from pydantic import ValidationError
    from x402.http.utils import decode_payment_signature_header
    from x402.schemas import PaymentPayload

    try:
        decoded = decode_payment_signature_header(header_value)
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError, ValidationError) as e:
        raise PaymentRejected(
            "malformed", f"PAYMENT-SIGNATURE is not a valid x402 payload ({type(e).__name__})"
        ) from None
    except (AttributeError, TypeError):  # valid JSON that is not an object
        raise PaymentRejected("malformed", "PAYMENT-SIGNATURE is not a JSON object") from None
    if not isinstance(decoded, PaymentPayload) or decoded.x402_version != 2:
        raise PaymentRejected("malformed", "only x402Version 2 payloads are accepted")
    return decoded


def _check_terms(payload: PaymentPayload, net: Network) -> None:
    accepted = payload.accepted
    if accepted.scheme != "exact":
        raise PaymentRejected(
            "unsupported_scheme", f"scheme {accepted.scheme!r} is not accepted; use 'exact'"
        )
    if accepted.network != net.id:
        raise PaymentRejected(
            "wrong_network",
            f"paid on {accepted.network!r}; this server takes {net.id} ({net.label})",
        )
    if accepted.asset.lower() != net.usdc.lower():
        raise PaymentRejected(
            "wrong_asset", f"asset {accepted.asset} is not USDC on {net.label} ({net.usdc})"
        )


def _authorization(inner: dict[str, Any]) -> tuple[dict[str, str], str]:
    """The EIP-3009 authorization and signature, with every field's shape checked."""
    authorization = inner.get("authorization")
    signature = inner.get("signature")
    if not isinstance(authorization, dict):
        # An `exact` payload without `authorization` is the Permit2 variant.
        raise PaymentRejected(
            "unsupported_scheme", "only EIP-3009 transferWithAuthorization payloads are accepted"
        )
    shapes = {
        "from": _ADDRESS,
        "to": _ADDRESS,
        "value": _UINT,
        "validAfter": _UINT,
        "validBefore": _UINT,
        "nonce": _NONCE,
    }
    for name, shape in shapes.items():
        value = authorization.get(name)
        if not isinstance(value, str) or not shape.match(value):
            raise PaymentRejected("malformed", f"authorization.{name} is missing or malformed")
    if not isinstance(signature, str) or not _SIGNATURE.match(signature):
        raise PaymentRejected("malformed", "signature must be 0x + 65 bytes of hex")
    return {name: authorization[name] for name in shapes}, signature


def _check_transfer(
    authorization: dict[str, str], *, expected_to: str, amount_micros: int, payer: str
) -> None:
    if authorization["to"].lower() != expected_to.lower():
        raise PaymentRejected(
            "wrong_pay_to", f"payment is to {authorization['to']}, not {expected_to}", payer=payer
        )
    value = int(authorization["value"])
    if value < amount_micros:
        raise PaymentRejected(
            "insufficient_amount", f"paid {value} micro-USDC, price is {amount_micros}", payer=payer
        )
    if value != amount_micros:
        # `exact` means exact: an overpayment is a client bug, never a tip.
        raise PaymentRejected(
            "wrong_amount",
            f"paid {value} micro-USDC, price is exactly {amount_micros}",
            payer=payer,
        )


def _check_window(authorization: dict[str, str], *, now: float, payer: str) -> int:
    # Whole seconds, as the official facilitator and the token contract compare them.
    current = int(now)
    valid_before = int(authorization["validBefore"])
    valid_after = int(authorization["validAfter"])
    if valid_before < current + MIN_VALIDITY_SECONDS:
        raise PaymentRejected(
            "expired",
            f"authorization is valid until {valid_before}; it must be valid until at "
            f"least now + {MIN_VALIDITY_SECONDS} s ({current + MIN_VALIDITY_SECONDS})",
            payer=payer,
        )
    if valid_after > current:
        raise PaymentRejected(
            "not_yet_valid",
            f"authorization is valid only after {valid_after} (now {current}); check the clock",
            payer=payer,
        )
    return valid_before


def _check_signature(
    authorization: dict[str, str], signature: str, *, net: Network, payer: str
) -> None:
    eip3009 = _eip3009()
    raw = bytes.fromhex(signature[2:])
    # The USDC contract (OpenZeppelin-style ECRecover) accepts only low-s signatures
    # with v of 27/28 (0/1 is the same recovery id): mirror it, or we would accept
    # payments the chain would refuse.
    if int.from_bytes(raw[32:64], "big") > _SECP256K1_HALF_N or raw[64] not in (0, 1, 27, 28):
        raise PaymentRejected(
            "invalid_signature", "signature is not in canonical form (low s, v 27/28)", payer=payer
        )
    digest = eip3009.transfer_digest(
        domain=eip3009.domain_separator(net.usdc_name, net.usdc_version, net.chain_id, net.usdc),
        from_address=authorization["from"],
        to=authorization["to"],
        value=int(authorization["value"]),
        valid_after=int(authorization["validAfter"]),
        valid_before=int(authorization["validBefore"]),
        nonce=bytes.fromhex(authorization["nonce"][2:]),
    )
    signer = eip3009.recover_signer(digest, raw)
    if signer is None or signer.lower() != payer.lower():
        raise PaymentRejected(
            "invalid_signature",
            f"signature does not recover to authorization.from ({payer}) under the "
            f"{net.usdc_name!r} v{net.usdc_version} domain on chain {net.chain_id}",
            payer=payer,
        )
