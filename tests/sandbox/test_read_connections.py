"""REST reads' own connections: handed from read to read, replaced when a read breaks one."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from appwright.sandbox.read_connections import ReadConnections


async def _backends(reads: ReadConnections, n: int) -> set[int]:
    """The backends of the connections `n` reads at once run on."""
    rows = await asyncio.gather(*(reads.fetchrow("SELECT pg_backend_pid(), pg_sleep(0.05)") for _ in range(n)))
    return {row[0] for row in rows}


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


async def test_an_owner_gets_all_connections_but_one(pg_dsn: str) -> None:
    reads = ReadConnections(pg_dsn, size=4)
    await reads.open()
    try:
        rows = await asyncio.gather(*(reads.fetchrow("SELECT pg_backend_pid(), pg_sleep(0.1)", owner="prj_a")
                                      for _ in range(8)))
        assert len({row[0] for row in rows}) == 3
    finally:
        await reads.close()


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ReadConnections("postgresql://x", size=0)


async def test_backends_lost_while_idle_cost_no_read(pg_dsn: str) -> None:
    reads = ReadConnections(pg_dsn, size=2)
    await reads.open()
    admin = await asyncpg.connect(pg_dsn)
    try:
        pids = await _backends(reads, 4)
        assert len(pids) == 2
        await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", list(pids))
        await _until_gone(admin, pids)
        await asyncio.sleep(0.1)  # the event loop reads the connections' end
        rows = await asyncio.wait_for(asyncio.gather(*(reads.fetchrow("SELECT 1") for _ in range(6))), 10)
        assert [row[0] for row in rows] == [1] * 6
        assert not (await _backends(reads, 4)) & pids
    finally:
        await admin.close()
        await reads.close()


async def test_reads_fail_fast_while_the_database_refuses_them_and_recover_after(pg_dsn: str) -> None:
    admin = await asyncpg.connect(pg_dsn)
    role = "read_connections_test"
    await admin.execute(f"DROP ROLE IF EXISTS {role}")
    await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
    reads = ReadConnections(_as(pg_dsn, role), size=2)
    await reads.open()
    try:
        pids = await _backends(reads, 4)
        assert len(pids) == 2
        await admin.execute(f"ALTER ROLE {role} NOLOGIN")
        await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", list(pids))
        await _until_gone(admin, pids)
        await asyncio.sleep(0.1)
        with pytest.raises(asyncpg.InterfaceError, match="cannot reach the database"):
            await asyncio.wait_for(reads.fetchrow("SELECT 1"), 10)  # no connection left: an error, not a hang
        await admin.execute(f"ALTER ROLE {role} LOGIN")
        assert (await _eventually(reads, "SELECT 'back'"))[0] == "back"
    finally:
        await reads.close()
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()


async def _until_gone(admin: asyncpg.Connection, pids: set[int]) -> None:
    for _ in range(200):
        if not await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", list(pids)):
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"backends {pids} are still there")


async def _eventually(reads: ReadConnections, sql: str) -> asyncpg.Record:
    for _ in range(100):
        try:
            row = await asyncio.wait_for(reads.fetchrow(sql), 10)
        except asyncpg.InterfaceError:
            await asyncio.sleep(0.1)  # reconnecting: the slots retry with a growing delay
            continue
        assert row is not None
        return row
    pytest.fail("the reads never came back")


def _as(dsn: str, role: str) -> str:
    scheme, _, rest = dsn.partition("://")
    return f"{scheme}://{role}:pw@{rest.partition('@')[2]}"


async def test_one_owner_holds_at_most_its_share_of_the_connections(pg_dsn: str) -> None:
    reads = ReadConnections(pg_dsn, size=2)  # a share of all but one: one connection each
    await reads.open()
    finished: list[str] = []

    async def read(owner: str, name: str, sql: str) -> None:
        await reads.fetchrow(sql, owner=owner)
        finished.append(name)

    try:
        slow = "SELECT pg_sleep(0.5)"
        first = asyncio.ensure_future(read("prj_a", "a1", slow))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(read("prj_a", "a2", slow))  # waits for a1: a's share is taken
        await asyncio.sleep(0.05)
        other = asyncio.ensure_future(read("prj_b", "b", "SELECT 1"))  # the free connection is b's to take
        await asyncio.gather(first, second, other)
        assert finished == ["b", "a1", "a2"]
    finally:
        await reads.close()


# Reads held up until the test lets them go: they take, shared, an advisory lock the
# test holds exclusively.
_GATE = 73_471_901
_GATED = f"SELECT pg_advisory_xact_lock_shared({_GATE}), pg_backend_pid()"


async def _close_gate(admin: asyncpg.Connection) -> None:
    await admin.execute("SELECT pg_advisory_lock($1)", _GATE)


async def _open_gate(admin: asyncpg.Connection) -> None:
    await admin.execute("SELECT pg_advisory_unlock($1)", _GATE)


async def _until_at_gate(admin: asyncpg.Connection, n: int) -> list[int]:
    """The backends of the `n` reads waiting at the gate, once there are that many."""
    for _ in range(200):
        pids = await admin.fetch(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted", _GATE)
        if len(pids) == n:
            return [row[0] for row in pids]
        await asyncio.sleep(0.05)
    pytest.fail(f"{len(pids)} reads at the gate, not {n}")


async def _cancelled(task: asyncio.Future[object]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def _stranded(reads: ReadConnections) -> bool:
    """Whether a connection sits idle while a waiting read could have it."""
    return bool(reads._idle) and any(not waiter.done() and not reads._at_share(owner)
                                     for owner, waiter in reads._waiting)


def _most_at_once(spans: list[tuple[object, object]]) -> int:
    """How many of the (start, end) spans overlap at most at one instant."""
    return max(sum(1 for start, end in spans if start <= at < end) for at, _ in spans)


async def test_an_owner_at_its_share_leaves_the_other_connections_to_other_owners(pg_dsn: str) -> None:
    reads = ReadConnections(pg_dsn, size=3)  # a share of 2
    await reads.open()
    timed = "SELECT clock_timestamp(), pg_sleep(0.1), clock_timestamp()"

    async def read(owner: str) -> tuple[str, object, object]:
        row = await reads.fetchrow(timed, owner=owner)
        assert row is not None
        return owner, row[0], row[2]  # when Postgres started and ended the statement

    try:
        # b's reads queue behind a's, and are served by the connection a may not have.
        done = await asyncio.gather(*(read("prj_a") for _ in range(6)), *(read("prj_b") for _ in range(3)))
        assert _most_at_once([(start, end) for owner, start, end in done if owner == "prj_a"]) == 2
        assert _most_at_once([(start, end) for _, start, end in done]) == 3  # b read beside a's two
        assert reads._held == {}
    finally:
        await reads.close()


async def test_a_read_skipped_for_its_owners_share_runs_once_that_owners_read_ends(pg_dsn: str) -> None:
    reads = ReadConnections(pg_dsn, size=2)  # a share of 1
    await reads.open()
    admin = await asyncpg.connect(pg_dsn)
    try:
        await _close_gate(admin)
        first = asyncio.ensure_future(reads.fetchrow(_GATED, owner="prj_a"))
        await _until_at_gate(admin, 1)
        second = asyncio.ensure_future(reads.fetchrow("SELECT 'a again'", owner="prj_a"))
        assert (await asyncio.wait_for(reads.fetchrow("SELECT 'b'", owner="prj_b"), 10))[0] == "b"
        assert not second.done()  # skipped: a holds its share, the idle connection is b's to take
        assert not _stranded(reads)
        await _open_gate(admin)
        await asyncio.wait_for(first, 10)
        assert (await asyncio.wait_for(second, 10))[0] == "a again"
        assert not _stranded(reads) and not reads._waiting
        assert reads._held == {}
    finally:
        await admin.close()
        await reads.close()


async def test_a_read_skipped_for_its_owners_share_takes_the_idle_connection_when_that_owners_read_breaks(
    pg_dsn: str,
) -> None:
    reads = ReadConnections(pg_dsn, size=2)  # a share of 1
    await reads.open()
    admin = await asyncpg.connect(pg_dsn)
    try:
        before = await _backends(reads, 2)
        await _close_gate(admin)
        first = asyncio.ensure_future(reads.fetchrow(_GATED, owner="prj_a"))
        [broken] = await _until_at_gate(admin, 1)
        second = asyncio.ensure_future(reads.fetchrow("SELECT pg_backend_pid()", owner="prj_a"))
        await asyncio.sleep(0.05)
        assert not second.done()
        await _cancelled(first)  # its connection is replaced; the other one sits idle
        assert not _stranded(reads)
        # Served on the idle connection at once, not on the replacement opened later.
        assert (await asyncio.wait_for(second, 10))[0] == next(iter(before - {broken}))
        assert reads._held == {}
    finally:
        await admin.close()
        await reads.close()


async def test_cancelled_waiting_reads_leak_no_connection_and_no_share(pg_dsn: str) -> None:
    reads = ReadConnections(pg_dsn, size=3)  # a share of 2
    await reads.open()
    admin = await asyncpg.connect(pg_dsn)
    try:
        await _close_gate(admin)
        running = [asyncio.ensure_future(reads.fetchrow(_GATED, owner=owner)) for owner in ("prj_a", "prj_a", "prj_b")]
        await _until_at_gate(admin, 3)
        given_up = [asyncio.ensure_future(reads.fetchrow(_GATED, owner=owner)) for owner in ("prj_a", "prj_b", None)]
        await asyncio.sleep(0.05)  # they queue: a at its share, no connection free
        assert reads._held == {"prj_a": 2, "prj_b": 1}
        for task in given_up:
            await _cancelled(task)
        await _open_gate(admin)
        await asyncio.wait_for(asyncio.gather(*running), 10)
        assert reads._held == {}

        await _close_gate(admin)  # every connection, at once, by three owners
        spread = [asyncio.ensure_future(reads.fetchrow(_GATED, owner=owner)) for owner in ("prj_a", "prj_b", "prj_c")]
        assert len(set(await _until_at_gate(admin, 3))) == 3
        await _open_gate(admin)
        await asyncio.wait_for(asyncio.gather(*spread), 10)

        await _close_gate(admin)  # a's full share, at once
        full = [asyncio.ensure_future(reads.fetchrow(_GATED, owner="prj_a")) for _ in range(2)]
        await _until_at_gate(admin, 2)
        await _open_gate(admin)
        await asyncio.wait_for(asyncio.gather(*full), 10)
        assert reads._held == {} and not _stranded(reads)
    finally:
        await admin.close()
        await reads.close()


async def test_the_owners_counts_are_dropped_when_their_reads_end(pg_dsn: str) -> None:
    reads = ReadConnections(pg_dsn, size=2)
    await reads.open()
    admin = await asyncpg.connect(pg_dsn)
    try:
        owners = [f"prj_{i}" for i in range(10)]
        await asyncio.gather(*(reads.fetchrow("SELECT pg_sleep(0.01)", owner=owner) for owner in owners * 3))
        with pytest.raises(asyncpg.UndefinedTableError):
            await reads.fetchrow("SELECT * FROM no_such_table", owner="prj_error")
        await _close_gate(admin)
        cancelled = asyncio.ensure_future(reads.fetchrow(_GATED, owner="prj_cancelled"))
        await _until_at_gate(admin, 1)
        assert reads._held == {"prj_cancelled": 1}
        await _cancelled(cancelled)
        assert reads._held == {}
        assert (await asyncio.wait_for(reads.fetchrow("SELECT 1", owner="prj_0"), 10))[0] == 1
        assert reads._held == {} and not reads._waiting
    finally:
        await admin.close()
        await reads.close()
