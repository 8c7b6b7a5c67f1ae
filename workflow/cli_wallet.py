"""`appwright wallet create|status|fund|export`: the wallet that pays for Run402 calls.

The wallet file is the one the hosted `run402` CLI uses (see
`appwright.platforms.wallet`): `$APPWRIGHT_WALLET`, else `$RUN402_ALLOWANCE_PATH`, else
`~/.config/run402/allowance.json`, mode 0600. The API base of `status` and `fund` is
`--api`, else `$APPWRIGHT_API`, else `$RUN402_API_BASE`, else the local sandbox.

No command prints or logs the private key. Exit codes: 0 done, 1 refused or failed
(a wallet already exists, no wallet, the faucet's 24 h limit, the API unreachable for
`fund`). `status` exits 0 when the wallet exists even if the API cannot be reached: it
says so and still shows the address.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

# The wallet (coincurve, pycryptodome) loads only when a wallet command runs, the client
# (eth-account, x402) only for status and fund: `import appwright.workflow.cli` stays light.
if TYPE_CHECKING:
    from appwright.platforms.run402 import ApiBase, BillingAccount, FaucetGrant, RateLimited
    from appwright.platforms.wallet import Wallet

__all__ = ["wallet_app"]

wallet_app = typer.Typer(
    help="The wallet that pays for Run402 calls (x402, USDC on Base Sepolia).",
    no_args_is_help=True,
)

ApiOption = Annotated[
    str | None,
    typer.Option("--api", help="API base URL; default $APPWRIGHT_API, $RUN402_API_BASE, else http://127.0.0.1:8402."),
]
_NETWORK = "Base Sepolia (eip155:84532, testnet USDC)"
_TIMEOUT_S = 10.0


@wallet_app.command()
def create() -> None:
    """Generate a new wallet; refuses, leaving it untouched, if one exists."""
    from appwright.platforms.wallet import WalletError, create_wallet

    try:
        wallet = create_wallet()
    except WalletError as error:
        _fail(str(error))
    typer.echo(f"Created wallet {wallet.address}")
    typer.echo(f"file: {wallet.path} (mode 600: it holds the private key, keep it private)")
    typer.echo("Next: appwright wallet fund")


@wallet_app.command()
def status(api: ApiOption = None) -> None:
    """Show the wallet's address, network and balance."""
    import asyncio

    from appwright.platforms.run402 import Run402Error

    wallet = _wallet()
    typer.echo(f"address: {wallet.address}")
    typer.echo(f"file:    {wallet.path}")
    typer.echo(f"network: {_NETWORK}")
    base = _base(api)
    typer.echo(f"api:     {base.url} (from {base.source})")
    try:
        account = asyncio.run(_account(base, wallet.address))
    except Run402Error as error:
        typer.echo(f"balance: unknown: {error}")
        return
    typer.echo(f"balance: {_usd(account.available_usd_micros)} ({account.available_usd_micros} micro-USD)")
    if account.available_usd_micros == 0:
        typer.echo("Fund it with: appwright wallet fund")


@wallet_app.command()
def fund(api: ApiOption = None) -> None:
    """Ask the faucet for testnet USDC (0.25 per address per 24 h)."""
    import asyncio

    from appwright.platforms.run402 import RateLimited, Run402Error
    from appwright.platforms.wallet import mark_funded

    wallet = _wallet()
    base = _base(api)
    try:
        grant = asyncio.run(_faucet(base, wallet.address))
    except RateLimited as error:
        _fail(_faucet_refusal(wallet, error))
    except Run402Error as error:
        _fail(str(error))
    mark_funded(wallet.path)
    typer.echo(f"Funded {wallet.address} with {_usd(grant.amount_usd_micros)} on {grant.network}.")
    typer.echo(f"balance: {_usd(grant.available_usd_micros)} ({grant.available_usd_micros} micro-USD)")
    if grant.next_available_at is not None:
        typer.echo(f"The faucet can be called again at {_when(grant.next_available_at)}.")


@wallet_app.command()
def export() -> None:
    """Print the wallet's address (safe to share), and nothing else."""
    typer.echo(_wallet().address)


# --- helpers --------------------------------------------------------------------------


def _wallet() -> Wallet:
    from appwright.platforms.wallet import WalletError, load_wallet, wallet_path

    try:
        wallet = load_wallet()
    except WalletError as error:
        _fail(str(error))
    if wallet is None:
        _fail(f"no wallet at {wallet_path()}: create one with `appwright wallet create`")
    return wallet


def _base(api: str | None) -> ApiBase:
    from appwright.platforms.run402 import Run402Error, resolve_api

    try:
        return resolve_api(api)
    except Run402Error as error:
        _fail(str(error))


async def _account(base: ApiBase, address: str) -> BillingAccount:
    from appwright.platforms.run402 import Run402

    async with Run402(api=base, timeout=_TIMEOUT_S) as client:
        return await client.billing.account(address)


async def _faucet(base: ApiBase, address: str) -> FaucetGrant:
    from appwright.platforms.run402 import Run402

    async with Run402(api=base, timeout=_TIMEOUT_S) as client:
        return await client.faucet(address)


def _faucet_refusal(wallet: Wallet, error: RateLimited) -> str:
    again = error.next_available_at
    if again is None and error.retry_after is not None:
        again = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=error.retry_after)).isoformat()
    when = _when(dt.datetime.fromisoformat(again)) if again else "later (the server did not say when)"
    return (
        f"the faucet refused: {error.message}. It can be called again for {wallet.address} at {when}. "
        "Meanwhile the wallet's balance is usable: appwright wallet status"
    )


def _when(moment: dt.datetime) -> str:
    """`2026-11-24 14:49 UTC (in 23 h 59 min)`."""
    utc = moment.astimezone(dt.UTC)
    left = max(0, int((utc - dt.datetime.now(dt.UTC)).total_seconds()))
    return f"{utc:%Y-%m-%d %H:%M} UTC (in {left // 3600} h {left % 3600 // 60} min)"


def _usd(micros: int) -> str:
    return f"${micros / 1_000_000:,.2f}" if micros % 10_000 == 0 else f"${micros / 1_000_000:,.6f}"


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)
