"""The Run402 client's retries against the real sandbox: schema lag, 429, 5xx, lost answers, leases."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator

import asyncpg
import httpx
import pytest
from conftest import new_key
from test_run402_payments import LosesAnswers

from appwright.platforms.run402 import (
    ApiError,
    LeaseExpired,
    ProjectCreated,
    RateLimited,
    ResponseLost,
    RetryPolicy,
    Run402,
)
from appwright.sandbox.app import SandboxConfig
from appwright.sandbox.server import SandboxServer

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def limited_api(pg_dsn: str, sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second sandbox on the same database (same projects, same keys), limited to 5 requests/s/project."""
    config = SandboxConfig(data_dir=tmp_path_factory.mktemp("limited"), database_url=pg_dsn, rate_limit=5)
    server = SandboxServer(config=config)
    server.start()
    yield server.url
    server.stop()


class FailsFirst(httpx.AsyncBaseTransport):
    """Answers the first matching request with a 503 itself; everything else goes to the server."""

    def __init__(self, match: Callable[[httpx.Request], bool]) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._match = match
        self.failed = 0
        """How many 503s were made up."""
        self.forwarded = 0
        """How many requests reached the server."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.failed == 0 and self._match(request):
            self.failed += 1
            return httpx.Response(503, json={"error": "unavailable", "message": "try again"}, request=request)
        self.forwarded += 1
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _rest(method: str) -> Callable[[httpx.Request], bool]:
    return lambda request: request.method == method and request.url.path.startswith("/rest/v1/")


# --- a table created a moment ago -----------------------------------------------------


async def test_a_select_waits_for_a_table_created_a_moment_later(
    client: Run402, project: ProjectCreated, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="appwright.platforms.run402")

    async def create_soon() -> None:
        await asyncio.sleep(0.3)
        await client.sql(project.project_id, project.service_key,
                         "CREATE TABLE later (id int PRIMARY KEY); INSERT INTO later VALUES (7)")

    started = time.monotonic()
    found, _ = await asyncio.gather(client.rest.select("later", project.service_key), create_soon())
    assert found.rows == [{"id": 7}]
    assert time.monotonic() - started >= 0.3
    assert any("HTTP 404" in r.getMessage() for r in caplog.records)  # it did see the 404 first


async def test_a_table_that_never_comes_is_an_error_after_about_two_seconds(
    client: Run402, project: ProjectCreated,
) -> None:
    started = time.monotonic()
    with pytest.raises(ApiError) as caught:
        await client.rest.select("never", project.service_key)
    elapsed = time.monotonic() - started
    assert (caught.value.status, caught.value.code) == (404, "table_not_found")
    assert 1.5 <= elapsed <= 3.5


async def test_admin_sql_does_not_wait_for_missing_tables(client: Run402, project: ProjectCreated) -> None:
    started = time.monotonic()
    with pytest.raises(ApiError):
        await client.sql(project.project_id, project.service_key, "SELECT * FROM never")
    assert time.monotonic() - started < 1.0


# --- 429 ------------------------------------------------------------------------------


async def test_rate_limited_calls_all_succeed_eventually(
    limited_api: str, client: Run402, project: ProjectCreated,
) -> None:
    await client.sql(project.project_id, project.service_key, "CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
    async with Run402(api=limited_api) as limited:
        started = time.monotonic()
        calls = [limited.rest.select("t", project.anon_key) for _ in range(12)]
        results = await asyncio.gather(*calls)
        elapsed = time.monotonic() - started
    assert all(r.rows == [{"id": 1}] for r in results)
    assert 1.0 <= elapsed <= 6.0


async def test_a_429_past_the_bound_is_rate_limited(limited_api: str, project: ProjectCreated) -> None:
    async with Run402(api=limited_api, retry=RetryPolicy(rate_limit_attempts=1)) as client:
        results = await asyncio.gather(*(client.rest.select("t", project.anon_key) for _ in range(10)),
                                       return_exceptions=True)
    limited = [r for r in results if isinstance(r, RateLimited)]
    assert limited and all(r.status == 429 and r.retry_after is not None and r.retry_after <= 1.0 for r in limited)


# --- 5xx and lost answers -------------------------------------------------------------


async def test_a_5xx_on_a_get_is_retried(api: str, project: ProjectCreated) -> None:
    transport = FailsFirst(lambda request: request.method == "GET")
    async with Run402(api=api, transport=transport) as flaky:
        schema = await flaky.schema(project.project_id, project.service_key)
    assert schema.schema_name == project.schema_slot and (transport.failed, transport.forwarded) == (1, 1)


async def test_a_5xx_on_a_read_is_retried(api: str, client: Run402, project: ProjectCreated) -> None:
    await client.sql(project.project_id, project.service_key, "CREATE TABLE r (id int); INSERT INTO r VALUES (1)")
    transport = FailsFirst(_rest("GET"))
    async with Run402(api=api, transport=transport) as flaky:
        found = await flaky.rest.select("r", project.service_key)
    assert found.rows == [{"id": 1}] and (transport.failed, transport.forwarded) == (1, 1)


async def test_a_5xx_on_an_unkeyed_write_is_not_retried(api: str, client: Run402, project: ProjectCreated) -> None:
    await client.sql(project.project_id, project.service_key, "CREATE TABLE w (id int)")
    transport = FailsFirst(_rest("POST"))
    async with Run402(api=api, transport=transport) as flaky:
        with pytest.raises(ApiError) as caught:
            await flaky.rest.insert("w", project.service_key, {"id": 1})
        assert (caught.value.status, transport.forwarded) == (503, 0)
        keyed = await flaky.rest.insert("w", project.service_key, {"id": 2}, idempotency_key=new_key())
    assert keyed.rows == [{"id": 2}]


async def test_a_lost_answer_without_a_key_is_not_resent(api: str, client: Run402, project: ProjectCreated) -> None:
    await client.sql(project.project_id, project.service_key, "CREATE TABLE l (id int)")
    transport = LosesAnswers(_rest("POST"))
    async with Run402(api=api, transport=transport) as flaky:
        with pytest.raises(ResponseLost) as caught:
            await flaky.rest.insert("l", project.service_key, {"id": 1})
    assert caught.value.idempotency_key is None and "no Idempotency-Key" in str(caught.value)
    assert len(transport.sent) == 1
    assert (await client.rest.select("l", project.service_key)).rows == [{"id": 1}]  # it did happen, once


async def test_a_lost_answer_with_a_key_is_resent_and_happens_once(
    api: str, client: Run402, project: ProjectCreated,
) -> None:
    await client.sql(project.project_id, project.service_key, "CREATE TABLE k (id int)")
    transport = LosesAnswers(_rest("POST"))
    async with Run402(api=api, transport=transport) as flaky:
        written = await flaky.rest.insert("k", project.service_key, {"id": 1}, idempotency_key=new_key())
    assert written.replayed and written.rows == [{"id": 1}] and len(transport.sent) == 2
    assert (await client.rest.select("k", project.service_key)).rows == [{"id": 1}]


async def test_a_lost_answer_after_every_retry_is_response_lost(api: str, project: ProjectCreated) -> None:
    transport = LosesAnswers(lambda r: True, times=10)
    async with Run402(api=api, transport=transport) as flaky:
        with pytest.raises(ResponseLost) as caught:
            await flaky.sql(project.project_id, project.service_key, "SELECT 1", idempotency_key="k-1")
    assert caught.value.idempotency_key == "k-1" and "same idempotency key" in str(caught.value)
    assert len(transport.sent) == RetryPolicy().transient_attempts


# --- leases ---------------------------------------------------------------------------


async def test_an_expired_lease_is_typed_and_renewing_lifts_it(
    pg_dsn: str, client: Run402, project: ProjectCreated,
) -> None:
    pid, key = project.project_id, project.service_key
    await client.sql(pid, key, "CREATE TABLE e (id int)")
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(
            "UPDATE sandbox.projects SET lease_expires_at = now() - interval '1 hour' WHERE id = $1", pid)
    finally:
        await conn.close()
    await asyncio.sleep(1.1)  # the sandbox caches project rows for a second
    with pytest.raises(LeaseExpired) as caught:
        await client.rest.insert("e", key, {"id": 1})
    expired = caught.value
    assert (expired.status, expired.code, expired.project_id) == (403, "lease_expired", pid)
    assert f"appwright projects renew {pid}" in str(expired) and f"/v1/projects/{pid}/renew" in str(expired)
    assert (await client.rest.select("e", key)).rows == []  # read-only, not gone
    with pytest.raises(LeaseExpired):
        await client.sql(pid, key, "INSERT INTO e VALUES (1)")
    await client.renew(pid, idempotency_key=new_key())
    assert (await client.rest.insert("e", key, {"id": 1})).rows == [{"id": 1}]
