"""The main pool resets a released connection's session, except after the sandbox's own SQL."""

from __future__ import annotations

import asyncpg

from appwright.sandbox.db import own_sql_only, reset_session


async def _pool(pg_dsn: str) -> asyncpg.Pool:
    return await asyncpg.create_pool(pg_dsn, min_size=1, max_size=1, reset=reset_session)


async def test_session_state_is_reset_on_release(pg_dsn: str) -> None:
    pool = await _pool(pg_dsn)
    try:
        async with pool.acquire() as conn:
            await conn.execute("SET application_name = 'left-behind'")
            await conn.execute("SELECT pg_advisory_lock(4021)")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW application_name") != "left-behind"
            held = await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                       "AND pid = pg_backend_pid()")
            assert held == 0
    finally:
        await pool.close()


async def test_own_sql_only_skips_the_reset_but_not_the_rollback(pg_dsn: str) -> None:
    pool = await _pool(pg_dsn)
    try:
        with own_sql_only():
            async with pool.acquire() as conn:
                await conn.execute("SET application_name = 'kept'")  # what own SQL never does
                await conn.execute("BEGIN")
                await conn.execute("SET LOCAL statement_timeout = 1234")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW application_name") == "kept"
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SHOW statement_timeout") != "1234ms"
            await conn.execute("RESET ALL")
    finally:
        await pool.close()


async def test_own_sql_only_ends_with_its_block(pg_dsn: str) -> None:
    pool = await _pool(pg_dsn)
    try:
        with own_sql_only():
            pass
        async with pool.acquire() as conn:
            await conn.execute("SET application_name = 'left-behind'")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW application_name") != "left-behind"
    finally:
        await pool.close()
