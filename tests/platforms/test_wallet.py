"""appwright.platforms.wallet: the run402-compatible wallet file, on real temp files."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest
from eth_account import Account

from appwright.platforms.wallet import (
    DEFAULT_WALLET_PATH,
    Wallet,
    WalletExists,
    WalletInvalid,
    WalletPermissions,
    create_wallet,
    ensure_wallet,
    load_wallet,
    mark_funded,
    wallet_path,
)


@pytest.fixture
def wallet_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A wallet path (not yet created) in a fresh directory, selected by env var."""
    path = tmp_path / "cfg" / "run402" / "allowance.json"
    monkeypatch.setenv("APPWRIGHT_WALLET", str(path))
    monkeypatch.delenv("RUN402_ALLOWANCE_PATH", raising=False)
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_wallet(path: Path, record: dict, file_mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    path.chmod(file_mode)


def test_path_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("APPWRIGHT_WALLET", raising=False)
    monkeypatch.delenv("RUN402_ALLOWANCE_PATH", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert wallet_path() == tmp_path / ".config" / "run402" / "allowance.json"
    assert DEFAULT_WALLET_PATH.expanduser() == wallet_path()
    monkeypatch.setenv("RUN402_ALLOWANCE_PATH", str(tmp_path / "run402.json"))
    assert wallet_path() == tmp_path / "run402.json"
    monkeypatch.setenv("APPWRIGHT_WALLET", "~/appwright.json")
    assert wallet_path() == tmp_path / "appwright.json"  # first env var wins, ~ expanded


def test_create_writes_the_hosted_cli_format_privately(wallet_file: Path) -> None:
    wallet = create_wallet()
    assert wallet.path == wallet_file
    assert mode(wallet_file) == 0o600
    assert mode(wallet_file.parent) == 0o700
    assert mode(wallet_file.parent.parent) == 0o700  # every directory we created
    record = json.loads(wallet_file.read_text())
    assert set(record) == {"address", "privateKey", "created", "funded", "rail"}
    assert record["rail"] == "x402" and record["funded"] is False
    assert record["privateKey"].startswith("0x") and len(record["privateKey"]) == 66
    assert record["created"].endswith("Z") and "T" in record["created"]
    assert Account.from_key(record["privateKey"]).address == record["address"] == wallet.address
    assert wallet.account().address == wallet.address
    # No temp files left behind.
    assert [p.name for p in wallet_file.parent.iterdir()] == ["allowance.json"]


def test_pre_existing_directory_permissions_are_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    create_wallet(shared / "w.json")
    assert mode(shared) == 0o755
    assert mode(shared / "w.json") == 0o600


def test_load_returns_none_when_there_is_no_wallet(wallet_file: Path) -> None:
    assert load_wallet() is None
    assert not wallet_file.exists()


def test_ensure_creates_once_then_reuses(wallet_file: Path) -> None:
    first, created = ensure_wallet()
    assert created is True
    content = wallet_file.read_bytes()
    second, created_again = ensure_wallet()
    assert created_again is False
    assert second.address == first.address
    assert second.private_key == first.private_key
    assert wallet_file.read_bytes() == content
    assert load_wallet() == second


def test_create_refuses_and_leaves_the_existing_wallet_untouched(wallet_file: Path) -> None:
    original = create_wallet()
    content = wallet_file.read_bytes()
    stamp = wallet_file.stat().st_mtime_ns
    with pytest.raises(WalletExists) as caught:
        create_wallet()
    assert str(wallet_file) in str(caught.value)
    assert caught.value.path == wallet_file
    assert wallet_file.read_bytes() == content
    assert wallet_file.stat().st_mtime_ns == stamp
    assert load_wallet().address == original.address
    assert [p.name for p in wallet_file.parent.iterdir()] == ["allowance.json"]


def test_create_refuses_even_a_corrupt_existing_file(wallet_file: Path) -> None:
    write_wallet(wallet_file, {"not": "a wallet"})
    content = wallet_file.read_bytes()
    with pytest.raises(WalletExists):
        create_wallet()
    assert wallet_file.read_bytes() == content


def test_repr_str_and_format_never_show_the_key(
    wallet_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wallet = create_wallet()
    key = wallet.private_key
    shown = [
        repr(wallet),
        str(wallet),
        f"{wallet}",
        f"{wallet!r}",
        repr([wallet]),
        str({1: wallet}),
    ]
    for text in shown:
        assert key not in text and key[2:] not in text
        assert wallet.address in text
    logging.getLogger("test").info("wallet: %s %r", wallet, wallet)
    assert key[2:] not in caplog.text


def test_signer_is_the_accounts_key_and_never_shows_it(wallet_file: Path) -> None:
    wallet = create_wallet()
    signer, account = wallet.signer(), wallet.account()
    assert signer.address == account.address == wallet.address
    assert signer.key == bytes(account.key)
    for text in (repr(signer), str(signer), f"{signer}", repr([signer])):
        assert wallet.private_key[2:] not in text and wallet.address in text


def test_wallet_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        Wallet("0xabc", "0xkey", "now", False, "x402", Path("p"))  # type: ignore[misc]


def test_mark_funded_keeps_other_fields_and_permissions(wallet_file: Path) -> None:
    wallet = create_wallet()
    record = json.loads(wallet_file.read_text())
    record["extraFromHostedCli"] = {"keep": True}
    write_wallet(wallet_file, record)
    funded = mark_funded()
    assert funded.funded is True and funded.address == wallet.address
    saved = json.loads(wallet_file.read_text())
    assert saved["funded"] is True
    assert saved["extraFromHostedCli"] == {"keep": True}
    assert saved["privateKey"] == record["privateKey"]
    assert mode(wallet_file) == 0o600
    assert mark_funded(funded=False).funded is False


def test_hosted_cli_wallet_loads(wallet_file: Path) -> None:
    account = Account.create()
    write_wallet(
        wallet_file,
        {
            "address": account.address.lower(),  # any case
            "privateKey": "0x" + bytes(account.key).hex(),
            "created": "2026-01-02T03:04:05.678Z",
            "funded": True,
            "rail": "x402",
        },
    )
    wallet = load_wallet()
    assert wallet is not None
    assert wallet.address == account.address  # checksummed
    assert (wallet.funded, wallet.rail, wallet.created) == (
        True,
        "x402",
        "2026-01-02T03:04:05.678Z",
    )


@pytest.mark.parametrize("file_mode", [0o644, 0o640, 0o604, 0o660, 0o666])
def test_loose_permissions_are_refused_with_the_fix(wallet_file: Path, file_mode: int) -> None:
    create_wallet()
    wallet_file.chmod(file_mode)
    with pytest.raises(WalletPermissions) as caught:
        load_wallet()
    message = str(caught.value)
    assert str(wallet_file) in message
    assert f"chmod 600 {wallet_file}" in message
    assert f"{file_mode:03o}" in message
    wallet_file.chmod(0o600)
    assert load_wallet() is not None


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        json.dumps({"address": "0x12", "privateKey": "0x" + "11" * 32}),
        json.dumps({"address": "0x" + "ab" * 20}),
        json.dumps({"address": "0x" + "ab" * 20, "privateKey": "0x" + "zz" * 32}),
        json.dumps({"address": "0x" + "ab" * 20, "privateKey": "0x" + "00" * 32}),  # not a key
    ],
)
def test_corrupt_file_is_refused_with_the_path(wallet_file: Path, content: str) -> None:
    wallet_file.parent.mkdir(parents=True)
    wallet_file.write_text(content)
    wallet_file.chmod(0o600)
    with pytest.raises(WalletInvalid) as caught:
        load_wallet()
    assert str(wallet_file) in str(caught.value)
    assert "appwright wallet create" in str(caught.value)


def test_key_that_does_not_match_the_address_is_refused_without_echoing_it(
    wallet_file: Path,
) -> None:
    key = "0x" + bytes(Account.create().key).hex()
    write_wallet(
        wallet_file, {"address": Account.create().address, "privateKey": key, "rail": "x402"}
    )
    with pytest.raises(WalletInvalid) as caught:
        load_wallet()
    assert "does not belong" in str(caught.value)
    assert key[2:] not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_mark_funded_refuses_a_file_it_cannot_load(wallet_file: Path) -> None:
    write_wallet(wallet_file, {"address": "nope"})
    content = wallet_file.read_bytes()
    with pytest.raises(WalletInvalid):
        mark_funded()
    assert wallet_file.read_bytes() == content


def test_a_directory_in_the_way_is_a_clear_error(wallet_file: Path) -> None:
    wallet_file.mkdir(parents=True)
    with pytest.raises(WalletInvalid, match="not a regular file"):
        load_wallet()


def test_explicit_path_argument_beats_the_environment(wallet_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.json"
    wallet, created = ensure_wallet(other)
    assert created and other.exists() and not wallet_file.exists()
    assert load_wallet(str(other)) == wallet
