"""REST reads' own connections: handed from read to read, replaced when a read breaks one."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from appwright.sandbox.read_connections import ReadConnections


async def _backends(reads: ReadConnections, n: int) -> set[int]:
    return {(await reads.fetchrow("SELECT pg_backend_pid()"))[0] for _ in range(n)}


async def test_more_reads_than_connections_are_all_served(pg_dsn: str) -> None:
    reads = ReadConnections(pg_dsn, size=2)
    await reads.open()
    try:
        rows = await asyncio.gather(*(reads.fetchrow("SELECT $1::int, pg_sleep(0.01)", i) for i in range(20)))
        assert [row[0] for row in rows] == list(range(20))
        pids = await asyncio.gather(*(reads.fetchrow("SELECT pg_backend_pid(), pg_sleep(0.01)") for _ in range(8)))
        assert len({row[0] for row in pids}) == 2  # never more connections than asked for
    finally:
        await reads.close()


async def test_a_postgres_error_keeps_the_connection(pg_dsn: str) -> None:
    reads = ReadConnections(pg_dsn, size=1)
    await reads.open()
    try:
        before = await _backends(reads, 1)
        with pytest.raises(asyncpg.UndefinedTableError):
            await reads.fetchrow("SELECT * FROM no_such_table")
        assert await _backends(reads, 1) == before
    finally:
        await reads.close()


async def test_a_cancelled_read_is_replaced_by_a_fresh_connection(pg_dsn: str) -> None:
    reads = ReadConnections(pg_dsn, size=1)
    await reads.open()
    try:
        before = await _backends(reads, 1)
        slow = asyncio.ensure_future(reads.fetchrow("SELECT pg_sleep(30)"))
        await asyncio.sleep(0.2)
        waiting = asyncio.ensure_future(reads.fetchrow("SELECT 'served after the replacement'"))
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert (await asyncio.wait_for(waiting, 10))[0] == "served after the replacement"
        after = await _backends(reads, 1)
        assert after and after != before
        gone = await asyncpg.connect(pg_dsn)
        try:  # the broken connection's backend is gone, not left running its sleep
            for _ in range(100):
                if not await gone.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", next(iter(before))):
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("the cancelled read's backend is still there")
        finally:
            await gone.close()
    finally:
        await reads.close()


async def test_a_cancelled_wait_hands_its_connection_on(pg_dsn: str) -> None:
    reads = ReadConnections(pg_dsn, size=1)
    await reads.open()
    try:
        busy = asyncio.ensure_future(reads.fetchrow("SELECT pg_sleep(0.2)"))
        await asyncio.sleep(0.05)
        given_up = asyncio.ensure_future(reads.fetchrow("SELECT 1"))
        patient = asyncio.ensure_future(reads.fetchrow("SELECT 2"))
        await asyncio.sleep(0.05)
        given_up.cancel()
        await busy
        assert (await asyncio.wait_for(patient, 5))[0] == 2
        assert given_up.cancelled()
    finally:
        await reads.close()


async def test_close_fails_the_reads_still_waiting(pg_dsn: str) -> None:
    reads = ReadConnections(pg_dsn, size=1)
    await reads.open()
    busy = asyncio.ensure_future(reads.fetchrow("SELECT pg_sleep(0.3)"))
    await asyncio.sleep(0.05)
    waiting = asyncio.ensure_future(reads.fetchrow("SELECT 1"))
    await asyncio.sleep(0.05)
    await reads.close()
    with pytest.raises(asyncpg.InterfaceError, match="stopping"):
        await waiting
    await busy  # the read already running finishes
    with pytest.raises(asyncpg.InterfaceError, match="stopping"):
        await reads.fetchrow("SELECT 1")


async def test_open_refuses_a_database_it_cannot_reach() -> None:
    reads = ReadConnections("postgresql://nobody@127.0.0.1:1/none", size=2)
    with pytest.raises(OSError):
        await reads.open()


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ReadConnections("postgresql://x", size=0)


async def test_a_killed_backend_costs_one_read_only(pg_dsn: str) -> None:
    reads = ReadConnections(pg_dsn, size=1)
    await reads.open()
    admin = await asyncpg.connect(pg_dsn)
    try:
        (pid,) = await _backends(reads, 1)
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        with pytest.raises(Exception):  # which error depends on when the loss is seen
            await reads.fetchrow("SELECT 1")
        assert (await asyncio.wait_for(reads.fetchrow("SELECT 'back'"), 10))[0] == "back"
        assert await _backends(reads, 1) != {pid}
    finally:
        await admin.close()
        await reads.close()
