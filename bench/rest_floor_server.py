"""The floor: the least Python one worker can spend on a proxied REST read.

A server for `bench/rest_throughput.py --floor`, not part of the sandbox. It answers
every HTTP request with the one read the benchmark asks for, run as the sandbox runs it
(`sandbox.rest_read` with the same role, schema, claims and SQL, on the same number of
read connections, over the same libraries: uvloop, httptools, asyncpg), and nothing
else: no routing, no key check, no rate limit, no quota, no plan lookup, no ASGI. What
the sandbox costs above this server is what its API does; what this server costs is
what any one-worker Python server of this shape costs on the machine.

    python bench/rest_floor_server.py PORT DSN ROLE SCHEMA CLAIMS SQL CONNECTIONS

It prints `ready` once it listens on 127.0.0.1:PORT.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections import deque

import asyncpg
import httptools
import uvloop

READ = "SELECT body, total, returned FROM sandbox.rest_read($1, $2, $3, $4)"


class Reads:
    """A fixed few connections, handed from one read to the next (FIFO waiters)."""

    def __init__(self, conns: list[asyncpg.Connection], args: tuple[str, ...]) -> None:
        self._idle = conns
        self._waiting: deque[asyncio.Future[asyncpg.Connection]] = deque()
        self._args = args

    async def read(self) -> tuple[str, int, int]:
        if self._idle:
            conn = self._idle.pop()
        else:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            conn = await waiter
        try:
            return await conn.fetchrow(READ, *self._args)  # type: ignore[return-value]
        finally:
            if self._waiting:
                self._waiting.popleft().set_result(conn)
            else:
                self._idle.append(conn)


class Http(asyncio.Protocol):
    """HTTP/1.1 keep-alive: each complete request is answered with the read."""

    def __init__(self, reads: Reads) -> None:
        self._reads = reads
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def on_message_complete(self) -> None:
        asyncio.get_running_loop().create_task(self._answer())

    async def _answer(self) -> None:
        body, total, returned = await self._reads.read()
        data = body.encode()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-range: 0-%d/*\r\n"
                b"content-length: %d\r\n\r\n%s" % (max(returned - 1, 0), len(data), data)
            )


async def serve(port: int, dsn: str, args: tuple[str, ...], connections: int) -> None:
    conns = [await asyncpg.connect(dsn, server_settings={"statement_timeout": "30000"}) for _ in range(connections)]
    reads = Reads(conns, args)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # IPPROTO_TCP: asyncio sets TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    server = await asyncio.get_running_loop().create_server(lambda: Http(reads), sock=sock)
    print("ready", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    port, dsn, role, schema, claims, sql, connections = sys.argv[1:8]
    uvloop.run(serve(int(port), dsn, (role, schema, claims, sql), int(connections)))
