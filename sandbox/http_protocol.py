"""uvicorn's httptools protocol, sending each answer's head and body in one write.

uvicorn writes an answer's status line and headers, then its body, as two separate
writes: two system calls and, with TCP_NODELAY on, two packets, which the client
reads with two wake-ups. For a small JSON answer those are a good part of what the
answer costs. Here the transport collects what is written during one step of the
event loop and sends it at the end of that step, in one write.

A request that cannot be parsed is answered in the sandbox's JSON error shape
(`malformed_request`), not with uvicorn's plain text.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["OneWriteHttpToolsProtocol", "JOIN_AT_MOST"]

JOIN_AT_MOST = 64 * 1024
"""Writes up to this size wait for the end of the loop step; larger ones go out at once."""


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` over a transport that joins the writes of one loop step."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        # uvloop's transports are not asyncio.Transport subclasses, but speak its methods.
        super().connection_made(_JoinedWrites(transport))  # type: ignore[arg-type]

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers a request it cannot parse before any app sees it, in plain
        # text; every answer of the sandbox's is JSON with a code, this one too.
        body = json.dumps({
            "error": "malformed_request",
            "message": f"the HTTP request could not be parsed: {msg}",
            "hint": "check the request line and the headers; Content-Length must be one whole number of "
                    "bytes, and a body is sent either with Content-Length or chunked, not both",
        }).encode()
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        self.transport.close()


class _JoinedWrites:
    """A transport whose writes within one event-loop step go out as one."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._pending: list[bytes] = []
        self._loop = asyncio.get_running_loop()

    def write(self, data: bytes) -> None:
        if len(data) > JOIN_AT_MOST:
            # Joining would copy a large body once more for one system call saved: what
            # waits goes first, then the body as it is.
            self._flush()
            if not self._transport.is_closing():
                self._transport.write(data)
            return
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def close(self) -> None:
        self._flush()  # what was written before close() is sent first, as by the transport itself
        self._transport.close()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def __getattr__(self, name: str) -> Any:
        # Everything else (extra info, reading pauses, abort, is_closing) is the transport's own.
        return getattr(self._transport, name)

    def _flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)
