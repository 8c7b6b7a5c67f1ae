"""End-to-end: lease lifecycle (active, read-only, archived, renewed) and the per-project rate limit."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from core import anon, apply_rls, assert_error, create, db, dbexec, dbval, rich_account, service, sql, sql_ok, user
from paying import balance, payer

from appwright.sandbox.app import SandboxConfig
from appwright.sandbox.server import SandboxServer

pytestmark = pytest.mark.asyncio(loop_scope="session")

CACHE_S = 1.1  # the ProjectCache keeps a project row for ~1 s


async def _lease_ago(pg_dsn: str, project_id: str, ago: dt.timedelta) -> None:
    await db(pg_dsn, "UPDATE sandbox.projects SET lease_expires_at = now() - $2::interval WHERE id = $1",
             project_id, ago)
    await asyncio.sleep(CACHE_S)


async def _ready(api: str, pg_dsn: str) -> tuple[dict[str, Any], Any]:
    account = await rich_account(pg_dsn, 1_000_000)
    project = await create(api, account, "lease")
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE notes (id serial PRIMARY KEY, body text); "
                                    "INSERT INTO notes (body) VALUES ('kept')")
    return project, account


async def test_expired_lease_is_read_only_for_the_grace_period(api: str, pg_dsn: str) -> None:
    project, _ = await _ready(api, pg_dsn)
    pid = project["project_id"]
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        _, token = await user(http, project)
        await _lease_ago(pg_dsn, pid, dt.timedelta(hours=1))

        # reads work
        read = await http.get("/rest/v1/notes", headers=anon(project))
        assert read.status_code == 200 and read.json() == [{"id": 1, "body": "kept"}]
        assert (await http.get("/rest/v1/notes", headers={"apikey": token})).status_code == 200
        assert (await sql(http, project, "SELECT count(*) AS n FROM notes")).json()["rows"] == [{"n": 1}]
        assert (await http.get(f"/admin/v1/projects/{pid}/schema", headers=service(project))).status_code == 200
        login_still_works = await http.post("/auth/v1/token", headers=anon(project),
                                            json={"email": "nobody@example.com", "password": "whatever-long"})
        assert login_still_works.status_code != 403

        # writes are refused with a hint to renew
        writes = [
            await http.post("/rest/v1/notes", headers={"apikey": project["service_key"]}, json={"body": "new"}),
            await http.patch("/rest/v1/notes?id=eq.1", headers={"apikey": project["service_key"]}, json={"body": "x"}),
            await http.delete("/rest/v1/notes?id=eq.1", headers={"apikey": token}),
            await sql(http, project, "INSERT INTO notes (body) VALUES ('sql')"),
            await sql(http, project, "CREATE TABLE more (id int)"),
            await apply_rls(http, project, "public_read", [{"table": "notes"}]),
            await http.post("/auth/v1/signup", headers=anon(project),
                            json={"email": "late@example.com", "password": "long enough pw"}),
        ]
        for answer in writes:
            body = assert_error(answer, 403, "lease_expired")
            assert "renew" in body["hint"] and f"/v1/projects/{pid}/renew" in body["hint"]
            assert "read-only" in body["message"]
        assert (await sql(http, project, "SELECT body FROM notes")).json()["rows"] == [{"body": "kept"}]


@pytest.mark.parametrize("text", [
    "WITH w AS (INSERT INTO notes (body) VALUES ('cte') RETURNING id) SELECT * FROM w",
    "WITH w AS (DELETE FROM notes RETURNING id) SELECT count(*) FROM w",
    "SELECT * INTO copied FROM notes",
    "EXPLAIN ANALYZE INSERT INTO notes (body) VALUES ('explain')",
])
async def test_read_only_admin_sql_cannot_write_through_a_select(api: str, pg_dsn: str, text: str) -> None:
    """A statement that parses as SELECT/EXPLAIN may still write: read-only must mean read-only."""
    project, _ = await _ready(api, pg_dsn)
    await _lease_ago(pg_dsn, project["project_id"], dt.timedelta(hours=1))
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answer = await sql(http, project, text)
        rows = await sql(http, project, "SELECT body FROM notes")
    slot = project["schema_slot"]
    assert rows.json()["rows"] == [{"body": "kept"}], f"{text!r} changed a read-only project"
    assert await dbval(pg_dsn, "SELECT to_regclass($1)", f"{slot}.copied") is None
    assert answer.status_code in (400, 403), answer.text


async def test_past_the_grace_period_everything_is_refused(api: str, pg_dsn: str) -> None:
    project, _ = await _ready(api, pg_dsn)
    pid = project["project_id"]
    await _lease_ago(pg_dsn, pid, dt.timedelta(days=7, minutes=1))
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answers = [
            await http.get("/rest/v1/notes", headers=anon(project)),
            await http.get("/rest/v1/notes", headers={"apikey": project["service_key"]}),
            await sql(http, project, "SELECT 1"),
            await http.get(f"/admin/v1/projects/{pid}/schema", headers=service(project)),
            await http.post("/auth/v1/token", headers=anon(project),
                            json={"email": "nobody@example.com", "password": "whatever-long"}),
        ]
    for answer in answers:
        body = assert_error(answer, 403, "lease_expired")
        assert "archived" in body["message"] and "renew" in body["hint"]


async def test_one_day_before_the_end_of_grace_reads_still_work(api: str, pg_dsn: str) -> None:
    project, _ = await _ready(api, pg_dsn)
    await _lease_ago(pg_dsn, project["project_id"], dt.timedelta(days=6))
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        assert (await http.get("/rest/v1/notes", headers=anon(project))).status_code == 200


@pytest.mark.parametrize("ago", [dt.timedelta(hours=1), dt.timedelta(days=30)])
async def test_renewing_restores_access(api: str, pg_dsn: str, ago: dt.timedelta) -> None:
    project, account = await _ready(api, pg_dsn)
    pid = project["project_id"]
    await _lease_ago(pg_dsn, pid, ago)
    async with payer(api, account) as paying:
        renewed = await paying.post(f"/v1/projects/{pid}/renew")
    assert renewed.status_code == 200, renewed.text
    new_lease = dt.datetime.fromisoformat(renewed.json()["lease_expires_at"])
    # renewing an expired lease counts from now, not from the old end
    expected = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=7)
    assert abs(new_lease - expected) < dt.timedelta(minutes=1)
    assert await balance(api, account.address) == 1_000_000 - 200_000
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        # no wait needed: renewing forgets the cached row
        wrote = await http.post("/rest/v1/notes", headers={"apikey": project["service_key"]}, json={"body": "back"})
        assert wrote.status_code == 201, wrote.text
        assert (await sql(http, project, "SELECT count(*) AS n FROM notes")).json()["rows"] == [{"n": 2}]


async def test_a_deleted_project_is_not_renewable(api: str, pg_dsn: str) -> None:
    project, account = await _ready(api, pg_dsn)
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        assert (await http.delete(f"/v1/projects/{project['project_id']}", headers=service(project))).status_code == 200
    async with payer(api, account) as paying:
        answer = await paying.post(f"/v1/projects/{project['project_id']}/renew")
    assert_error(answer, 404, "project_not_found")


@pytest.fixture(scope="module")
def unlimited(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second sandbox on the same database without a practical rate limit."""
    server = SandboxServer(config=SandboxConfig(data_dir=tmp_path_factory.mktemp("unlimited"), database_url=pg_dsn,
                                                rate_limit=1_000_000))
    server.start()
    yield server.url
    server.stop()


async def test_a_write_right_after_renewal_is_accepted_even_under_concurrent_reads(
    pg_dsn: str, unlimited: str,
) -> None:
    """Renewing forgets the cached project row; a read racing the renewal must not re-cache the old one.

    Agents renew and write at once; the browser app of the project keeps reading meanwhile.
    """
    account = await rich_account(pg_dsn, 5_000_000)
    for _ in range(3):
        project = await create(unlimited, account, "racy")  # not cached yet: nothing has read it
        slot = project["schema_slot"]
        await dbexec(pg_dsn, f"SET ROLE {slot}_owner; CREATE TABLE {slot}.n (id int); RESET ROLE; "
                         "UPDATE sandbox.projects SET lease_expires_at = now() - interval '1 hour' "
                         f"WHERE id = '{project['project_id']}'")
        reading = True

        async def read() -> None:
            async with httpx.AsyncClient(base_url=unlimited, timeout=30) as h:
                while reading:
                    assert (await h.get("/rest/v1/n", headers=anon(project))).status_code == 200

        readers = [asyncio.create_task(read()) for _ in range(6)]
        try:
            await asyncio.sleep(0.05)
            async with payer(unlimited, account) as paying:
                renewed = await paying.post(f"/v1/projects/{project['project_id']}/renew")
            assert renewed.status_code == 200, renewed.text
            async with httpx.AsyncClient(base_url=unlimited, timeout=30) as http:
                wrote = await http.post("/rest/v1/n", headers={"apikey": project["service_key"]}, json={"id": 1})
        finally:
            reading = False
            await asyncio.gather(*readers)
        assert wrote.status_code == 201, wrote.text


# --- rate limit ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second sandbox on the same database that allows 5 requests per second per project."""
    server = SandboxServer(config=SandboxConfig(data_dir=tmp_path_factory.mktemp("limited"), database_url=pg_dsn,
                                                rate_limit=5))
    server.start()
    yield server.url
    server.stop()


async def test_the_sixth_rest_call_within_a_second_is_429(api: str, pg_dsn: str, limited: str) -> None:
    account = await rich_account(pg_dsn, 500_000)
    project = await create(api, account, "busy")  # made on the session sandbox: same database, same keys
    other = await create(api, account, "quiet")
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE t (id int)")
        await sql_ok(http, other, "CREATE TABLE t (id int)")
    async with httpx.AsyncClient(base_url=limited, timeout=30) as http:
        answers = list(await asyncio.gather(*(http.get("/rest/v1/t", headers=anon(project)) for _ in range(6))))
        answers.sort(key=lambda a: a.status_code)
        other_project = await http.get("/rest/v1/t", headers=anon(other))
        admin = await sql(http, project, "SELECT 1")  # admin routes are not counted per second
        await asyncio.sleep(1.05)
        after = await http.get("/rest/v1/t", headers=anon(project))
    assert [a.status_code for a in answers[:5]] == [200] * 5
    body = assert_error(answers[5], 429, "rate_limited")
    assert 0 < body["retry_after"] <= 1
    assert answers[5].headers["Retry-After"] == "1"
    assert "5 requests per second" in body["message"] and body["hint"]
    assert other_project.status_code == 200
    assert admin.status_code == 200
    assert after.status_code == 200
