"""`appwright.platforms.eip3009` (and x402pay_exact's scheme over it) gives exactly eth-account's and x402's results."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from coincurve import PrivateKey
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import to_checksum_address
from x402 import PaymentRequirements
from x402.mechanisms.evm.default_assets import DEFAULT_ASSETS
from x402.mechanisms.evm.exact.client import ExactEvmScheme
from x402.mechanisms.evm.signers import EthAccountSigner
from x402.mechanisms.evm.types import AUTHORIZATION_TYPES, TypedDataDomain, TypedDataField

from appwright.platforms import eip3009
from appwright.platforms.wallet import WalletKey
from appwright.platforms.x402pay_exact import _USDC, MAINNET, TESTNET, _ExactScheme, _TransferSigner

USDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
DOMAIN = {"name": "USDC", "version": "2", "chainId": 84532, "verifyingContract": USDC}


def _message(account: Any, **changes: Any) -> dict[str, Any]:
    message = {
        "from": account.address,
        "to": "0x402402402402402402402402402402402402402A",
        "value": 10_000,
        "validAfter": 0,
        "validBefore": int(time.time()) + 300,
        "nonce": os.urandom(32),
    }
    return {**message, **changes}


def _digest(message: dict[str, Any], domain: dict[str, Any] = DOMAIN) -> bytes:
    return eip3009.transfer_digest(
        domain=eip3009.domain_separator(
            domain["name"], domain["version"], domain["chainId"], domain["verifyingContract"]
        ),
        from_address=message["from"],
        to=message["to"],
        value=message["value"],
        valid_after=message["validAfter"],
        valid_before=message["validBefore"],
        nonce=message["nonce"],
    )


def _eth_account_signed(account: Any, message: dict[str, Any], domain: dict[str, Any] = DOMAIN) -> Any:
    typed = encode_typed_data(
        domain_data=domain, message_types=AUTHORIZATION_TYPES, message_data=message
    )
    return account.sign_message(typed)


def test_fields_are_the_x402_packages_struct() -> None:
    fields = tuple((f["name"], f["type"]) for f in AUTHORIZATION_TYPES[eip3009.PRIMARY_TYPE])
    assert fields == eip3009.TRANSFER_FIELDS


@pytest.mark.parametrize(
    "changes",
    [{}, {"value": 1}, {"value": 2**256 - 1}, {"validAfter": 12345}, {"nonce": b"\0" * 32}],
)
def test_digest_and_signature_are_eth_accounts(changes: dict[str, Any]) -> None:
    account = Account.create()
    message = _message(account, **changes)
    signed = _eth_account_signed(account, message)
    digest = _digest(message)
    assert digest == bytes(signed.message_hash)
    assert eip3009.sign_digest(PrivateKey(bytes(account.key)), digest) == bytes(signed.signature)


def test_domain_is_part_of_the_digest() -> None:
    account = Account.create()
    message = _message(account)
    mainnet = {**DOMAIN, "name": "USD Coin", "chainId": 8453}
    assert _digest(message, mainnet) == bytes(_eth_account_signed(account, message, mainnet).message_hash)
    assert _digest(message, mainnet) != _digest(message)


def test_recover_gives_the_signer_for_either_v_form() -> None:
    account = Account.create()
    message = _message(account)
    signature = bytes(_eth_account_signed(account, message).signature)
    digest = _digest(message)
    assert eip3009.recover_signer(digest, signature) == account.address
    zero_one = signature[:64] + bytes([signature[64] - 27])
    assert eip3009.recover_signer(digest, zero_one) == account.address


@pytest.mark.parametrize(
    "signature",
    [
        b"",
        b"\1" * 64,
        b"\0" * 64 + b"\x1b",  # r = s = 0
        b"\xff" * 64 + b"\x1b",  # r, s above the curve order
        b"\1" * 64 + b"\x1d",  # v = 29
    ],
)
def test_recover_refuses_what_recovers_nothing(signature: bytes) -> None:
    assert eip3009.recover_signer(b"\1" * 32, signature) is None


def test_checksum_address_is_eip55() -> None:
    for _ in range(20):
        address = "0x" + os.urandom(20).hex()
        assert eip3009.checksum_address(address) == to_checksum_address(address)
        assert eip3009.checksum_address(address.upper().replace("0X", "0x")) == to_checksum_address(address)
    for bad in ("0x1234", "0x" + "g" * 40, "12" * 21):
        with pytest.raises(ValueError):
            eip3009.checksum_address(bad)


def _x402_call() -> tuple[TypedDataDomain, dict[str, list[TypedDataField]]]:
    domain = TypedDataDomain(name="USDC", version="2", chain_id=84532, verifying_contract=USDC)
    types = {
        name: [TypedDataField(name=f["name"], type=f["type"]) for f in fields]
        for name, fields in AUTHORIZATION_TYPES.items()
    }
    return domain, types


def test_signer_signs_as_x402s_eth_account_signer() -> None:
    account = Account.create()
    message = _message(account)
    domain, types = _x402_call()
    ours = _TransferSigner(account).sign_typed_data(domain, types, eip3009.PRIMARY_TYPE, message)
    theirs = EthAccountSigner(account).sign_typed_data(domain, types, eip3009.PRIMARY_TYPE, message)
    assert ours == theirs
    assert _TransferSigner(account).address == account.address


def test_signer_hands_other_structs_to_eth_account() -> None:
    account = Account.create()
    domain = TypedDataDomain(name="Permit2", version="1", chain_id=84532, verifying_contract=USDC)
    types = {"Other": [TypedDataField(name="amount", type="uint256")]}
    message = {"amount": 5}
    ours = _TransferSigner(account).sign_typed_data(domain, types, "Other", message)
    theirs = EthAccountSigner(account).sign_typed_data(domain, types, "Other", message)
    assert ours == theirs


def test_key_address_is_eth_accounts() -> None:
    for _ in range(10):
        account = Account.create()
        assert eip3009.key_address(PrivateKey(bytes(account.key))) == account.address


@pytest.mark.parametrize("network", [TESTNET, MAINNET])
def test_usdc_table_is_the_x402_packages(network: str) -> None:
    # x402pay_exact keeps its own copy so that paying never imports x402.mechanisms.evm (web3).
    assert DEFAULT_ASSETS[network] == [_USDC[network]]
    usdc = _USDC[network]["asset"]
    for asset in (usdc, usdc.lower(), "0x" + "1" * 40):
        assert _ExactScheme.find_default_asset(asset, network) == ExactEvmScheme.find_default_asset(asset, network)


def _requirements(**extra: Any) -> PaymentRequirements:
    return PaymentRequirements(
        scheme="exact", network=TESTNET, asset=USDC, amount="10000",
        pay_to="0x402402402402402402402402402402402402402A", max_timeout_seconds=300, extra=extra,
    )


@pytest.mark.parametrize("extra", [{"name": "USDC", "version": "2"}, {"name": "Other", "version": "7"}, {}, {"x": 1}])
def test_exact_scheme_pays_as_the_x402_packages(extra: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # Same nonce and clock for both: the payloads, the signature included, must be equal.
    monkeypatch.setattr(os, "urandom", lambda n: b"\x07" * n)
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.5)
    account = Account.create()
    ours_requirements, theirs_requirements = _requirements(**extra), _requirements(**extra)
    ours = _ExactScheme(account).create_payment_payload(ours_requirements)
    theirs = ExactEvmScheme(signer=EthAccountSigner(account)).create_payment_payload(theirs_requirements)
    assert ours == theirs
    assert ours_requirements.extra == theirs_requirements.extra  # the name lookup writes into extra, as theirs
    signer = WalletKey(address=account.address, key=bytes(account.key))
    assert _ExactScheme(signer).create_payment_payload(_requirements(**extra)) == theirs


def test_exact_scheme_refuses_an_unknown_token_without_a_name_as_the_package() -> None:
    requirements = _requirements()
    requirements.asset = "0x" + "1" * 40
    with pytest.raises(ValueError, match="EIP-712 domain parameters"):
        _ExactScheme(Account.create()).create_payment_payload(requirements)
