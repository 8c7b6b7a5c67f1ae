"""The sandbox a build starts for itself when no API base is given.

It lives under `APPWRIGHT_HOME/sandbox` and listens on 8402 (or the port the run
used before, so the URLs it printed keep working). If a sandbox already answers
there, for instance `appwright sandbox` in another terminal, the build uses it.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from appwright.sandbox.app import SandboxConfig
from appwright.sandbox.server import SandboxServer

__all__ = ["EmbeddedSandbox", "DEFAULT_PORT"]

DEFAULT_PORT = 8402


@dataclass(kw_only=True)
class EmbeddedSandbox:
    """A sandbox for one build: started here, or found already running."""

    data_dir: Path
    """Where its Postgres keeps its data."""
    url: str | None = None
    """The API base to reuse (a resumed run's), if any."""
    server: SandboxServer | None = None
    """The server this process started, if it started one."""

    def start(self) -> str:
        """The API base of a running sandbox: an existing one, or a new one in this process."""
        port = urlsplit(self.url).port if self.url else DEFAULT_PORT
        port = port or DEFAULT_PORT
        existing = f"http://127.0.0.1:{port}"
        if _answers(existing):
            return existing
        if not _free(port):
            port = 0  # something else holds the port: take any free one
        # The faucet gives as often as asked: a local build must never stall on testnet money.
        config = SandboxConfig(data_dir=self.data_dir, faucet_interval_s=0)
        self.server = SandboxServer(config=config, port=port)
        return self.server.start()

    def stop(self) -> None:
        """Stop the sandbox if this process started it."""
        if self.server is not None:
            self.server.stop()
            self.server = None


def _answers(base: str) -> bool:
    try:
        response = httpx.post(f"{base}/v1/projects/quote", timeout=1.0)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and "tiers" in response.text


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
