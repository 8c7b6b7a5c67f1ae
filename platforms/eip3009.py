"""EIP-3009 `TransferWithAuthorization`: its EIP-712 digest, signing and recovery.

The one struct an x402 `exact` payment in USDC signs, known to client and sandbox
alike. eth-account hashes any typed data through a generic EIP-712 encoder (about
0.3 ms a digest, plus 0.4 s to import); this struct never changes, so its digest is
a few keccak calls over fixed-width fields, and coincurve (libsecp256k1) signs and
recovers in tens of microseconds. Tests pin every function here to eth-account's
results for the same input.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from Crypto.Hash import keccak as _keccak
from coincurve import PrivateKey, PublicKey

__all__ = [
    "PRIMARY_TYPE",
    "TRANSFER_FIELDS",
    "checksum_address",
    "domain_separator",
    "keccak256",
    "key_address",
    "recover_signer",
    "sign_digest",
    "transfer_digest",
]

PRIMARY_TYPE: Final = "TransferWithAuthorization"
TRANSFER_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("from", "address"),
    ("to", "address"),
    ("value", "uint256"),
    ("validAfter", "uint256"),
    ("validBefore", "uint256"),
    ("nonce", "bytes32"),
)
"""The struct's (name, type) fields, in the order the USDC contract hashes them."""

_UINT256_LIMIT: Final = 1 << 256


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (Ethereum's, not SHA3-256) of `data`."""
    return _keccak.new(digest_bits=256, data=data).digest()


_DOMAIN_TYPEHASH: Final = keccak256(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_TRANSFER_TYPEHASH: Final = keccak256(
    (PRIMARY_TYPE + "(" + ",".join(f"{kind} {name}" for name, kind in TRANSFER_FIELDS) + ")").encode()
)


def _address_word(address: str) -> bytes:
    raw = bytes.fromhex(address[2:] if address[:2] in ("0x", "0X") else address)
    if len(raw) != 20:
        raise ValueError(f"not a 20-byte address: {address!r}")
    return raw.rjust(32, b"\0")


def _uint_word(value: int) -> bytes:
    if not 0 <= value < _UINT256_LIMIT:
        raise ValueError(f"not a uint256: {value!r}")
    return value.to_bytes(32, "big")


@lru_cache(maxsize=64)
def domain_separator(name: str, version: str, chain_id: int, verifying_contract: str) -> bytes:
    """The EIP-712 domain separator of a token (name, version, chainId, verifyingContract)."""
    return keccak256(
        _DOMAIN_TYPEHASH
        + keccak256(name.encode())
        + keccak256(version.encode())
        + _uint_word(chain_id)
        + _address_word(verifying_contract)
    )


def transfer_digest(
    *,
    domain: bytes,
    from_address: str,
    to: str,
    value: int,
    valid_after: int,
    valid_before: int,
    nonce: bytes,
) -> bytes:
    """The 32-byte EIP-712 digest a `TransferWithAuthorization` signature signs.

    `domain` is `domain_separator(...)` of the token.
    """
    if len(nonce) != 32:
        raise ValueError("nonce must be 32 bytes")
    struct = keccak256(
        _TRANSFER_TYPEHASH
        + _address_word(from_address)
        + _address_word(to)
        + _uint_word(value)
        + _uint_word(valid_after)
        + _uint_word(valid_before)
        + nonce
    )
    return keccak256(b"\x19\x01" + domain + struct)


def sign_digest(key: PrivateKey, digest: bytes) -> bytes:
    """A 65-byte Ethereum signature (r, s, v = 27/28) of `digest`; low s, as libsecp256k1 makes it."""
    signature = key.sign_recoverable(digest, hasher=None)
    return signature[:64] + bytes([27 + signature[64]])


def recover_signer(digest: bytes, signature: bytes) -> str | None:
    """The checksummed address that signed `digest`, or None if `signature` recovers nothing.

    `signature` is r, s, v with v in 0/1 or 27/28, as eth-account accepts it.
    """
    if len(signature) != 65 or signature[64] not in (0, 1, 27, 28):
        return None
    compact = signature[:64] + bytes([signature[64] % 27])
    try:
        public = PublicKey.from_signature_and_message(compact, digest, hasher=None)
    except ValueError:  # r or s out of range, or no point for this r
        return None
    return _public_address(public)


def key_address(key: PrivateKey) -> str:
    """The checksummed Ethereum address of a private key (what eth-account's `.address` is)."""
    return _public_address(key.public_key)


def _public_address(public: PublicKey) -> str:
    # The address is the last 20 bytes of the keccak of the uncompressed point (no 0x04 prefix).
    return checksum_address("0x" + keccak256(public.format(compressed=False)[1:])[-20:].hex())


def checksum_address(address: str) -> str:
    """EIP-55 mixed-case form of a `0x` + 40 hex address."""
    lower = address[2:].lower()
    if len(lower) != 40 or address[:2] not in ("0x", "0X") or not lower.isascii():
        raise ValueError(f"not a 20-byte hex address: {address!r}")
    bytes.fromhex(lower)  # raises ValueError on a non-hex digit
    hashed = keccak256(lower.encode()).hex()
    return "0x" + "".join(c.upper() if int(h, 16) >= 8 else c for c, h in zip(lower, hashed))
