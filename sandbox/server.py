"""Running the sandbox: in the foreground (`appwright sandbox`) or in a thread.

A sandbox in a thread is what `appwright build` and the tests use: a real uvicorn
server on loopback, talked to over HTTP exactly like the hosted service.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

import uvicorn
import uvloop
from starlette.types import ASGIApp

from .app import SandboxConfig, create_app
from .http_protocol import OneWriteHttpToolsProtocol
from .postgres import EmbeddedPostgres

__all__ = ["SandboxServer", "serve_forever"]


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run the server on uvloop: the sandbox's event loop is its hot path."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only for sockets it
    # knows are TCP; with Nagle on, each answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port") from None
    sock.listen(2048)
    return sock


@dataclass(kw_only=True)
class SandboxServer:
    """A sandbox served by uvicorn from a background thread."""

    config: SandboxConfig
    """What the sandbox runs on."""
    host: str = "127.0.0.1"
    """Loopback only: the sandbox is for this machine."""
    port: int = 0
    """0 picks a free port."""
    _server: uvicorn.Server | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _error: BaseException | None = field(default=None, init=False, repr=False)
    _sock: socket.socket | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        """The API base, e.g. http://127.0.0.1:8402."""
        assert self._sock is not None, "the server is not running"
        return f"http://{self.host}:{self._sock.getsockname()[1]}"

    @property
    def bound_port(self) -> int:
        """The port the server listens on."""
        assert self._sock is not None, "the server is not running"
        return int(self._sock.getsockname()[1])

    def start(self, timeout: float = 60.0) -> str:
        """Start serving; return the API base once requests are answered."""
        self._sock = _bind(self.host, self.port)
        self._server = uvicorn.Server(_uvicorn_config(create_app(self.config), timeout_graceful_shutdown=5))
        self._thread = threading.Thread(target=self._run, name="appwright-sandbox", daemon=True)
        self._thread.start()
        self._wait_started(timeout)
        return self.url

    def _run(self) -> None:
        assert self._server is not None and self._sock is not None
        try:
            _run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # reported to the starting thread
            self._error = exc

    def _wait_started(self, timeout: float) -> None:
        assert self._server is not None and self._thread is not None
        self._thread.join(0)
        deadline = threading.Event()
        waited = 0.0
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the sandbox failed to start: {self._error}") from self._error
            if waited > timeout:
                raise RuntimeError(f"the sandbox did not start within {timeout:.0f} s")
            deadline.wait(0.01)
            waited += 0.01

    def stop(self) -> None:
        """Stop serving and stop its Postgres."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(
    config: SandboxConfig, *, host: str = "127.0.0.1", port: int = 8402,
    on_ready: Callable[[str], None] = lambda url: None,
) -> None:
    """Serve in the foreground until Ctrl-C.

    The port is bound and Postgres started before anything is served, so that a busy
    port or data dir is a clean error (OSError, PostgresError), not a server traceback.
    """
    sock = _bind(host, port)
    postgres = None
    try:
        if config.database_url is None:
            postgres = EmbeddedPostgres(data_dir=config.data_dir)
            config = replace(config, database_url=postgres.start())
        server = uvicorn.Server(_uvicorn_config(create_app(config)))
        on_ready(f"http://{host}:{sock.getsockname()[1]}")
        _run(server.serve(sockets=[sock]))
    finally:
        sock.close()
        if postgres is not None:
            postgres.stop()


def _uvicorn_config(app: ASGIApp, **options: Any) -> uvicorn.Config:
    # No proxy_headers: the sandbox listens on loopback with no proxy in front, and
    # nothing in it reads the client's address (one middleware less per request).
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                          http=OneWriteHttpToolsProtocol, proxy_headers=False, **options)
