"""x402's `exact` scheme for USDC on Base, paid with EIP-3009 (what `x402pay` registers).

`_ExactScheme` is an x402 `SchemeNetworkClient`: for an EIP-3009 offer it builds the
same payload and signature as the package's `ExactEvmScheme` (pinned by tests), signed
by `_TransferSigner` with libsecp256k1 (`eip3009`). Importing any part of
`x402.mechanisms.evm` loads web3 and eth-account (~0.9 s), so that package, and
eth-account, are imported only when a Permit2 offer (or other typed data) comes.

Also here: the two networks we pay on (`TESTNET`, `MAINNET`), their USDC (`_USDC`),
and `PayingAccount`, what pays.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from coincurve import PrivateKey
from x402 import PaymentRequirements

from . import eip3009

if TYPE_CHECKING:  # x402.mechanisms.evm loads web3 and eth-account: only Permit2 needs it
    from x402.mechanisms.evm.exact.client import ExactEvmScheme
    from x402.mechanisms.evm.signers import EthAccountSigner
    from x402.mechanisms.evm.types import TypedDataDomain, TypedDataField

__all__ = ["MAINNET", "TESTNET", "PayingAccount"]

TESTNET: Final = "eip155:84532"
MAINNET: Final = "eip155:8453"

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

