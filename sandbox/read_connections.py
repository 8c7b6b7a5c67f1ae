"""The connections REST reads run on: a fixed few, handed from one read to the next.

asyncpg's `Pool` spends ~20 µs of Python on each checkout (a queue, a timeout, a
shielded release), a tenth of a whole REST read. Reads need less than a pool gives:
they leave no session state behind (their settings are LOCAL to the statement's own
transaction, see `sandbox.rest_read`), so a connection goes straight back to the next
waiting read. A connection whose query did not end in a Postgres error (cancelled, or
broken) is never reused: it is closed and another one is opened in its place.

A few connections serve a single worker's reads as fast as many would, and cost
Postgres less: fewer backends to wake and switch between.

Reads that find no connection free wait in one queue, which also counts how many
connections each owner (a project) holds: a connection goes to the first waiting read
whose owner is below its share, the others keep their place. A semaphore per owner in
front of the connections did the same with two waits (and two futures) per read under load.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from contextlib import suppress

import asyncpg

__all__ = ["ReadConnections", "READ_CONNECTIONS"]

READ_CONNECTIONS = 8
"""How many connections a sandbox keeps for REST reads (see bench/README.md)."""


class ReadConnections:
    """`size` connections to one database, each running one read at a time."""

    def __init__(
        self, dsn: str, *, size: int = READ_CONNECTIONS, per_owner: int | None = None,
        server_settings: Mapping[str, str] = {},
    ) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self._dsn = dsn
        self._size = size
        # One project's slow reads (each may run to the statement timeout) must not hold
        # every connection: an owner gets all but one at once. A share of half cost a
        # busy project ~12 % of its reads per second (bench/rest_ab.py, measured when
        # the share was a semaphore per project).
        self._per_owner = per_owner or max(1, size - 1)
        # Connections held per owner, counted from the moment one is handed to its read;
        # an owner at 0 is dropped, so this holds only the projects reading right now.
        self._held: dict[str, int] = {}
        self._settings = dict(server_settings)
        self._idle: list[asyncpg.Connection] = []
        self._waiting: deque[tuple[str | None, asyncio.Future[asyncpg.Connection]]] = deque()
        self._opening: set[asyncio.Task[None]] = set()
        self._live = 0  # open connections, idle or running a read
        self._closed = False

    async def open(self) -> None:
        """Open all the connections; if one fails, close the others and raise its error."""
        opened = await asyncio.gather(*(self._connect() for _ in range(self._size)), return_exceptions=True)
        self._idle.extend(conn for conn in opened if isinstance(conn, asyncpg.Connection))
        failure = next((error for error in opened if isinstance(error, BaseException)), None)
        if failure is not None:
            await self.close()
            raise failure

    async def fetchrow(self, sql: str, *args: object, owner: str | None = None) -> asyncpg.Record | None:
        """Run one statement on a free connection and return its first row.

        Reads with the same `owner` (a project) hold at most `per_owner` connections at once;
        reads without one have no share.
        """
        conn = self._take(owner) or await self._wait(owner)
        try:
            row = await conn.fetchrow(sql, *args)
        except asyncpg.PostgresError:
            self._give_back(conn, owner)  # the server answered; a backend shut down is seen as closed there
            raise
        except BaseException:
            self._replace(conn, owner)
            raise
        self._give_back(conn, owner)
        return row

    async def close(self) -> None:
        """Close every connection; reads still waiting get an error."""
        self._closed = True
        opening = list(self._opening)
        for task in opening:
            task.cancel()
        await asyncio.gather(*opening, return_exceptions=True)
        self._fail_waiting(asyncpg.InterfaceError("the sandbox is stopping"))
        idle, self._idle = self._idle, []
        for conn in idle:
            self._live -= 1
            with suppress(Exception):
                await conn.close(timeout=2)

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self._dsn, server_settings=self._settings)
        self._live += 1
        return conn

    def _take(self, owner: str | None) -> asyncpg.Connection | None:
        # Idle connections exist only while no waiting read may have one, so a read
        # below its share that finds one jumps no queue.
        if self._at_share(owner):
            return None
        # A connection whose backend went away while idle (Postgres restarted, the
        # backend was killed) is seen as closed here: it is replaced, not handed out.
        while self._idle:
            conn = self._idle.pop()
            if not conn.is_closed():
                self._hold(owner)
                return conn
            self._replace(conn)
        return None

    async def _wait(self, owner: str | None) -> asyncpg.Connection:
        if self._closed:
            raise asyncpg.InterfaceError("the sandbox is stopping")
        waiter: asyncio.Future[asyncpg.Connection] = asyncio.get_running_loop().create_future()
        self._waiting.append((owner, waiter))
        try:
            return await waiter
        except asyncio.CancelledError:
            # Handed a connection (and counted against its owner) just as this read was
            # cancelled: pass it on. A waiter cancelled before is skipped by `_hand`.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._give_back(waiter.result(), owner)
            raise

    def _at_share(self, owner: str | None) -> bool:
        return owner is not None and self._held.get(owner, 0) >= self._per_owner

    def _hold(self, owner: str | None) -> None:
        if owner is not None:
            self._held[owner] = self._held.get(owner, 0) + 1

    def _release(self, owner: str | None) -> bool:
        """Count one connection less for `owner`; true if its waiting reads were being skipped."""
        if owner is None:
            return False
        held = self._held[owner]
        if held > 1:
            self._held[owner] = held - 1
        else:
            del self._held[owner]
        return held == self._per_owner

    def _serve_idle(self) -> None:
        while self._idle and self._waiting:
            conn = self._idle.pop()
            if conn.is_closed():
                self._replace(conn)
            elif not self._hand(conn):
                self._idle.append(conn)
                return

    def _give_back(self, conn: asyncpg.Connection, owner: str | None = None) -> None:
        """Pass on `conn`, no longer held by a read of `owner` (None: held by no owner)."""
        if self._closed:
            self._release(owner)
            self._live -= 1
            conn.terminate()
            return
        if conn.is_closed():
            self._replace(conn, owner)
            return
        # The owner's count goes down first, so that its next waiting read, skipped
        # until now, may have this very connection. None is stranded: with another
        # connection idle, no other waiting read could have one, so this one goes to
        # that owner's read, which puts the owner back at its share.
        self._release(owner)
        if not self._hand(conn):
            self._idle.append(conn)

    def _hand(self, conn: asyncpg.Connection) -> bool:
        """Give `conn` to the first waiting read whose owner is below its share, if any."""
        waiting = self._waiting
        i = 0
        while i < len(waiting):
            owner, waiter = waiting[i]
            if waiter.done():  # cancelled while waiting
                del waiting[i]
            elif self._at_share(owner):
                i += 1  # keeps its place until its owner gives a connection back
            else:
                del waiting[i]
                self._hold(owner)
                waiter.set_result(conn)
                return True
        return False

    def _replace(self, conn: asyncpg.Connection, owner: str | None = None) -> None:
        self._live -= 1
        task = asyncio.get_running_loop().create_task(self._close_and_reopen(conn))
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)
        # No connection comes back with this one's owner dropping below its share: its
        # reads that were skipped may take an idle one now rather than wait for another.
        if self._release(owner) and self._idle:
            self._serve_idle()

    async def _close_and_reopen(self, conn: asyncpg.Connection) -> None:
        # A graceful close waits for Postgres to acknowledge the cancelled query (asyncpg
        # sends the cancel request), so the backend does not run it on to its timeout.
        try:
            await conn.close(timeout=5)
        except Exception:
            conn.terminate()  # broken or silent: nothing more to wait for
        except BaseException:
            conn.terminate()
            raise
        if not self._closed:
            await self._open_one()

    def _fail_waiting(self, error: BaseException) -> None:
        while self._waiting:
            _, waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    async def _open_one(self) -> None:
        delay = 0.05
        while not self._closed:
            try:
                conn = await self._connect()
            except Exception as error:
                # Postgres is restarting or gone. While other connections still live,
                # waiting reads get one of them; with none left they fail at once (503)
                # instead of hanging. Either way this slot is tried again, more slowly.
                if self._live == 0:
                    self._fail_waiting(asyncpg.InterfaceError(f"cannot reach the database: {error}"))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            self._give_back(conn)
            return
