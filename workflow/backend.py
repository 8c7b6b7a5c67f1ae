"""The run's way to the platform: a Run402 client that pays with the run's wallet, or an AltaTech client.

The wallet may not exist when a run starts (the provision step makes it), so the
client is made on first use and again when the wallet file changes. The run's
budget is what is left of `--budget` after the payments already in the ledger, so a
resumed run cannot spend more than the whole run was allowed.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import urlsplit, urlunsplit

import httpx

from appwright.platforms.altatech import AltaTech
from appwright.platforms.run402 import Run402
from appwright.platforms.wallet import load_wallet
from appwright.platforms.x402pay import Budget

__all__ = ["RunBackend"]

_MAX_PER_CALL_MICROS = 20_000_000  # the dearest single call of the seed: a team project


@dataclass(kw_only=True)
class RunBackend:
    """The platform of one run."""

    api: str
    """The API base."""
    platform: str = "run402"
    """run402, or altatech (whose client needs no wallet: its key comes from provision)."""
    tier: str = "prototype"
    """The tier to provision."""
    network: str = "eip155:84532"
    """The x402 network; Base Sepolia unless mainnet was asked for."""
    budget: Budget = field(default_factory=lambda: Budget(limit_micros=1_000_000))
    """What the run may still spend."""
    _client: Run402 | None = field(default=None, init=False, repr=False)
    _altatech: AltaTech | None = field(default=None, init=False, repr=False)
    _address: str | None = field(default=None, init=False, repr=False)
    _http: httpx.AsyncClient | None = field(default=None, init=False, repr=False)

    async def client(self) -> Run402 | AltaTech:  # type: ignore[override]
        """A client paying with the current wallet (none yet: it can make free calls only).

        On AltaTech, its client: each call carries the project's API key.
        """
        if self.platform == "altatech":
            self._altatech = self._altatech or AltaTech(api=self.api)
            return self._altatech
        wallet = load_wallet()
        address = wallet.address if wallet else None
        if self._client is None or address != self._address:
            await self._close_client()
            account = wallet.signer() if wallet else None  # no eth-account: see wallet.WalletKey
            self._client = Run402(
                api=self.api, account=account, budget=self.budget,
                max_per_call_micros=_MAX_PER_CALL_MICROS, network=self.network,
                transport=httpx.AsyncHTTPTransport(verify=_tls()),
            )
            await self._client.__aenter__()
            self._address = address
        return self._client

    async def get(self, url: str) -> tuple[int, str]:
        """GET a page of the app, resolving `*.localhost` hosts to loopback ourselves."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=15, follow_redirects=True, verify=_tls())
        target, host = _loopback(url)
        response = await self._http.get(target, headers={"Host": host} if host else None)
        return response.status_code, response.text

    async def aclose(self) -> None:
        """Close the clients."""
        await self._close_client()
        if self._altatech is not None:
            await self._altatech.aclose()
            self._altatech = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _close_client(self) -> None:
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
            self._client = None


@cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS context (system settings, certifi's CAs), made once per process.

    Every httpx transport otherwise makes its own, loading the CA bundle each time
    (~15 ms): a build made five (two per Run402 client, one per wallet change, one to
    fetch the site). Contexts are meant to be shared.
    """
    return httpx.create_ssl_context()


def _loopback(url: str) -> tuple[str, str | None]:
    # Browsers resolve *.localhost to loopback; the system resolver may not.
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    if not hostname.endswith(".localhost"):
        return url, None
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"127.0.0.1{port}")), f"{hostname}{port}"
