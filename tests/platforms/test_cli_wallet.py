"""`appwright wallet create|status|fund|export` against the real sandbox."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner

from appwright.workflow.cli import app

_BIN = Path(sys.executable).parent / "appwright"


@pytest.fixture
def wallet_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """APPWRIGHT_WALLET points at a fresh path; no API base in the environment."""
    path = tmp_path / "run402" / "allowance.json"
    monkeypatch.setenv("APPWRIGHT_WALLET", str(path))
    for name in ("APPWRIGHT_API", "RUN402_API_BASE", "RUN402_ALLOWANCE_PATH"):
        monkeypatch.delenv(name, raising=False)
    return path


def run(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `appwright wallet <args>`."""
    result = CliRunner().invoke(app, ["wallet", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def private_key(path: Path) -> str:
    key = json.loads(path.read_text())["privateKey"]
    assert isinstance(key, str)
    return key


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_create_writes_a_private_compatible_wallet_file(wallet_file: Path) -> None:
    code, out, err = run("create")
    assert code == 0, err
    record = json.loads(wallet_file.read_text())
    assert set(record) == {"address", "privateKey", "created", "funded", "rail"}
    assert record["address"] in out and "appwright wallet fund" in out
    assert stat.S_IMODE(wallet_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(wallet_file.parent.stat().st_mode) == 0o700
    assert Account.from_key(record["privateKey"]).address == record["address"]
    assert record["privateKey"][2:] not in out + err


def test_create_refuses_when_a_wallet_exists_and_leaves_it(wallet_file: Path) -> None:
    assert run("create")[0] == 0
    before = wallet_file.read_bytes()
    code, out, err = run("create")
    assert code == 1 and "already exists" in err and str(wallet_file) in err
    assert wallet_file.read_bytes() == before
    assert private_key(wallet_file)[2:] not in out + err


def test_export_prints_the_address_and_nothing_else(wallet_file: Path) -> None:
    run("create")
    code, out, err = run("export")
    assert code == 0 and out == json.loads(wallet_file.read_text())["address"] + "\n" and err == ""


def test_a_wallet_made_elsewhere_is_reused(wallet_file: Path, api: str) -> None:
    account = Account.create()
    wallet_file.parent.mkdir(parents=True)
    record = {"address": account.address, "privateKey": "0x" + bytes(account.key).hex(),
              "created": "2026-01-01T00:00:00.000Z", "funded": False, "rail": "x402"}
    wallet_file.write_text(json.dumps(record))
    wallet_file.chmod(0o600)
    assert run("export")[1].strip() == account.address
    code, out, _ = run("status", "--api", api)
    assert code == 0 and account.address in out


def test_a_wallet_others_can_read_is_refused(wallet_file: Path) -> None:
    run("create")
    wallet_file.chmod(0o644)
    code, out, err = run("status")
    assert code == 1 and "chmod 600" in err and private_key(wallet_file)[2:] not in out + err


def test_no_wallet_says_create_one(wallet_file: Path, api: str) -> None:
    for args in (("status", "--api", api), ("export",), ("fund", "--api", api)):
        code, _, err = run(*args)
        assert code == 1 and "appwright wallet create" in err and str(wallet_file) in err


def test_status_fund_and_the_faucets_limit(wallet_file: Path, api: str) -> None:
    run("create")
    address = json.loads(wallet_file.read_text())["address"]
    code, out, _ = run("status", "--api", api)
    assert code == 0
    assert f"address: {address}" in out and "eip155:84532" in out and f"{api} (from --api)" in out
    assert "balance: $0.00" in out and "appwright wallet fund" in out

    code, out, err = run("fund", "--api", api)
    assert code == 0, err
    assert "Funded" in out and "$0.25" in out and "can be called again at" in out
    assert json.loads(wallet_file.read_text())["funded"] is True
    assert "balance: $0.25 (250000 micro-USD)" in run("status", "--api", api)[1]

    code, out, err = run("fund", "--api", api)
    assert code == 1
    assert "faucet" in err and "can be called again" in err and " UTC (in 23 h" in err
    assert private_key(wallet_file)[2:] not in out + err


def test_status_uses_the_environments_api(wallet_file: Path, api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    run("create")
    monkeypatch.setenv("APPWRIGHT_API", api)
    code, out, _ = run("status")
    assert code == 0 and f"{api} (from APPWRIGHT_API)" in out and "balance: $0.00" in out


def test_status_without_an_api_still_shows_the_address(wallet_file: Path) -> None:
    run("create")
    address = json.loads(wallet_file.read_text())["address"]
    base = f"http://127.0.0.1:{_closed_port()}"
    code, out, _ = run("status", "--api", base)
    assert code == 0 and f"address: {address}" in out
    assert f"balance: unknown: nothing answers at {base}" in out and "appwright sandbox" in out


def test_fund_without_an_api_fails_clearly(wallet_file: Path) -> None:
    run("create")
    code, _, err = run("fund", "--api", f"http://127.0.0.1:{_closed_port()}")
    assert code == 1 and "nothing answers at" in err


def test_the_docs_site_as_api_is_refused_naming_the_api(wallet_file: Path) -> None:
    run("create")
    code, out, err = run("status", "--api", "http://run402.com")
    assert code == 1 and "https://api.run402.com" in err
    assert "address: 0x" in out  # the wallet is still shown


def test_the_installed_command(tmp_path: Path, api: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPWRIGHT_", "RUN402_"))}
    env["APPWRIGHT_WALLET"] = str(tmp_path / "w.json")

    def appwright(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(_BIN), "wallet", *args], env=env, capture_output=True, text=True, timeout=60)

    created = appwright("create")
    assert created.returncode == 0, created.stderr
    address = json.loads((tmp_path / "w.json").read_text())["address"]
    assert address in created.stdout
    funded = appwright("fund", "--api", api)
    assert funded.returncode == 0, funded.stderr
    status = appwright("status", "--api", api)
    assert status.returncode == 0 and "balance: $0.25" in status.stdout
    key = private_key(tmp_path / "w.json")[2:]
    assert all(key not in p.stdout + p.stderr for p in (created, funded, status))
