"""The agent's wallet file, shared with the hosted `run402` CLI.

One JSON file holds the key that pays for everything:

    {"address": "0x…", "privateKey": "0x…", "created": "2026-…Z", "funded": false, "rail": "x402"}

It lives at `~/.config/run402/allowance.json` unless `APPWRIGHT_WALLET` (first) or
`RUN402_ALLOWANCE_PATH` names another path, so appwright and the hosted CLI use the same
wallet. The file is mode 0600 in a 0700 directory (when we create the directory), is
always written whole (temp file, fsync, rename) and is never overwritten by
`create_wallet`. Loading refuses a file that others can read, or one whose key does not
match its address, with an error that says which file and how to fix it.

The private key is never printed, logged or put in an exception message: `Wallet`'s
repr shows the address only. `Wallet.signer()` is what pays (the key and its address,
derived with libsecp256k1); `Wallet.account()` is the same key as an eth-account
`LocalAccount`, for callers that need one (eth-account takes ~0.6 s to import, so
nothing here loads it otherwise).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import stat
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from coincurve import PrivateKey

from .eip3009 import key_address

if TYPE_CHECKING:  # eth-account takes ~0.6 s to import: only `Wallet.account()` loads it
    from eth_account.signers.local import LocalAccount

__all__ = [
    "DEFAULT_WALLET_PATH",
    "Wallet",
    "WalletError",
    "WalletExists",
    "WalletInvalid",
    "WalletKey",
    "WalletPermissions",
    "create_wallet",
    "ensure_wallet",
    "load_wallet",
    "mark_funded",
    "wallet_path",
]

DEFAULT_WALLET_PATH: Final = Path("~/.config/run402/allowance.json")
_ENV_VARS: Final = ("APPWRIGHT_WALLET", "RUN402_ALLOWANCE_PATH")
_PRIVATE_KEY = re.compile(r"^0x[0-9a-fA-F]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class WalletError(Exception):
    """The wallet file cannot be used; the message says which file and what to do."""

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


class WalletExists(WalletError):
    """`create_wallet` found a wallet already there (and left it untouched)."""


class WalletInvalid(WalletError):
    """The file is not a wallet: unreadable, not JSON, missing fields, key ≠ address."""


class WalletPermissions(WalletError):
    """The file (holding a private key) can be read or written by other users."""


@dataclass(frozen=True)
class WalletKey:
    """The wallet's key and address: what `x402pay` signs payments with.

    It has the two attributes the payer reads from an eth-account `LocalAccount`
    (`address`, `key`), without loading eth-account. Its repr shows the address only.
    """

    address: str
    key: bytes = field(repr=False)

    def __repr__(self) -> str:
        # Spelled out, as for Wallet: an edit to the fields must not leak the key.
        return f"WalletKey(address={self.address!r})"

    __str__ = __repr__


@dataclass(kw_only=True)
class Wallet:
    """A loaded wallet. Its repr and str show the address, never the key."""

    address: str
    private_key: str = field(repr=False)
    created: str
    funded: bool = False
    rail: str = "x402"
    path: Path

    def signer(self) -> WalletKey:
        """The key that pays for this wallet (see `x402pay.paying_client`)."""
        return WalletKey(address=self.address, key=bytes.fromhex(self.private_key[2:]))

    def account(self) -> LocalAccount:
        """The eth-account signer for this wallet's key (loads eth-account)."""
        from eth_account import Account

        account: LocalAccount = Account.from_key(self.private_key)
        return account

    def __repr__(self) -> str:
        # Spelled out rather than trusting field(repr=False) alone: a later edit to the
        # dataclass must not be able to leak the key through repr().
        return (
            f"Wallet(address={self.address!r}, funded={self.funded!r}, "
            f"rail={self.rail!r}, created={self.created!r}, path={str(self.path)!r})"
        )

    __str__ = __repr__


def wallet_path() -> Path:
    """Where the wallet is: `$APPWRIGHT_WALLET`, `$RUN402_ALLOWANCE_PATH`, or the default."""
    for name in _ENV_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return Path(value).expanduser()
    return DEFAULT_WALLET_PATH.expanduser()


def load_wallet(path: Path | str | None = None) -> Wallet | None:
    """The wallet at `path` (default: `wallet_path()`), or None if there is no file."""
    target = _resolve(path)
    try:
        raw = _read_private_file(target)
    except FileNotFoundError:
        return None
    return _parse(raw, path=target)


def create_wallet(path: Path | str | None = None) -> Wallet:
    """Generate a new key and save it. Raises `WalletExists` if a file is already there."""
    target = _resolve(path)
    if target.exists():
        raise WalletExists(
            f"A wallet already exists at {target}; it was left untouched. "
            "Use it (appwright wallet status), or move it away first to create a new one.",
            path=target,
        )
    key = PrivateKey()  # 32 bytes from os.urandom, redrawn until a valid secp256k1 key
    record = {
        "address": key_address(key),
        "privateKey": "0x" + key.secret.hex(),  # the hosted CLI's format: 0x + 64 hex
        "created": _utc_now_iso(),
        "funded": False,
        "rail": "x402",
    }
    _write_atomic(target, record, replace=False)
    return _parse(json.dumps(record), path=target)


def ensure_wallet(path: Path | str | None = None) -> tuple[Wallet, bool]:
    """The wallet at `path`, creating it if missing. Returns (wallet, created)."""
    target = _resolve(path)
    existing = load_wallet(target)
    if existing is not None:
        return existing, False
    try:
        return create_wallet(target), True
    except WalletExists:
        # Another process created it between our load and create: use theirs.
        wallet = load_wallet(target)
        if wallet is None:  # pragma: no cover - deleted again in the same instant
            raise
        return wallet, False


def mark_funded(path: Path | str | None = None, *, funded: bool = True) -> Wallet:
    """Record that the wallet has (or has not) been funded; other fields are kept as-is."""
    target = _resolve(path)
    raw = _read_private_file(target)
    _parse(raw, path=target)  # refuse to rewrite a file we could not load
    record: dict[str, Any] = json.loads(raw)
    record["funded"] = funded
    _write_atomic(target, record, replace=True)
    return _parse(json.dumps(record), path=target)


# --- reading --------------------------------------------------------------------------


def _resolve(path: Path | str | None) -> Path:
    return wallet_path() if path is None else Path(path).expanduser()


def _read_private_file(path: Path) -> str:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise
    except OSError as e:
        raise WalletInvalid(
            f"Cannot read the wallet file {path}: {e.strerror}.", path=path
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise WalletInvalid(f"The wallet path {path} is not a regular file.", path=path)
    _check_permissions(path, info)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise WalletInvalid(f"Cannot read the wallet file {path}: {e}.", path=path) from None


def _check_permissions(path: Path, info: os.stat_result) -> None:
    if os.name != "posix":  # no POSIX modes to check (Windows ACLs are out of scope)
        return
    loose = stat.S_IMODE(info.st_mode) & 0o077
    if loose:
        raise WalletPermissions(
            f"The wallet file {path} holds a private key but has mode "
            f"{stat.S_IMODE(info.st_mode):03o} (readable or writable by other users). "
            f"Fix it with: chmod 600 {_shell_quote(path)}",
            path=path,
        )


def _parse(raw: str, *, path: Path) -> Wallet:
    fix = (
        f"Fix or restore {path}, or move it away and run `appwright wallet create` "
        "(a wallet that holds funds cannot be recovered without its key)."
    )
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise WalletInvalid(
            f"The wallet file {path} is not valid JSON (line {e.lineno}). {fix}", path=path
        ) from None
    if not isinstance(data, dict):
        raise WalletInvalid(f"The wallet file {path} is not a JSON object. {fix}", path=path)
    address, key = data.get("address"), data.get("privateKey")
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise WalletInvalid(f'The wallet file {path} has no valid "address". {fix}', path=path)
    # Never echo the key's value, even a broken one: it may be one typo from real.
    if not isinstance(key, str) or not _PRIVATE_KEY.match(key):
        raise WalletInvalid(
            f'The wallet file {path} has no valid "privateKey" (0x + 64 hex). {fix}', path=path
        )
    derived = _address_of(key)
    if derived is None or derived.lower() != address.lower():
        raise WalletInvalid(
            f'The wallet file {path}: "privateKey" does not belong to "address" {address}. {fix}',
            path=path,
        )
    return Wallet(
        address=derived,
        private_key=key,
        created=str(data.get("created", "")),
        funded=bool(data.get("funded", False)),
        rail=str(data.get("rail", "x402")),
        path=path,
    )


def _address_of(private_key: str) -> str | None:
    """The checksummed address of a `0x` + 64 hex key; None if it is not a valid key."""
    try:
        return key_address(PrivateKey(bytes.fromhex(private_key[2:])))
    except ValueError:  # zero, or not below the curve order
        return None


# --- writing --------------------------------------------------------------------------


def _write_atomic(path: Path, record: dict[str, Any], *, replace: bool) -> None:
    """Write `record` to `path` whole: temp file (0600) + fsync + rename.

    With `replace=False` the final step is a hard link, which fails if `path` exists:
    two processes creating a wallet at once cannot overwrite each other's key.
    """
    _ensure_private_dir(path.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            _link_no_clobber(tmp, path)
        _fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _link_no_clobber(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise WalletExists(
            f"A wallet already exists at {path}; it was left untouched.", path=path
        ) from None
    except OSError:
        # A filesystem without hard links: rename instead. Only a creator racing us in
        # the same instant could be overwritten, and neither key has been shown yet.
        if path.exists():
            raise WalletExists(
                f"A wallet already exists at {path}; it was left untouched.", path=path
            ) from None
        os.replace(tmp, path)


def _ensure_private_dir(directory: Path) -> None:
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for created in missing:
        # mkdir's mode is masked by the umask; only tighten what we created, never a
        # pre-existing directory such as /tmp or a shared ~/.config.
        os.chmod(created, 0o700)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename durable across a crash; not possible on every platform.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _utc_now_iso() -> str:
    # The hosted CLI is JavaScript: match Date.prototype.toISOString().
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _shell_quote(path: Path) -> str:
    return shlex.quote(str(path))
