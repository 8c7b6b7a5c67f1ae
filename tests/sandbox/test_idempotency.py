"""End-to-end: Idempotency-Key on paid routes, admin SQL and REST writes."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from core import anon, create, dbval, rich_account, sql, sql_ok
from paying import balance, history, payer

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def _charges(api: str, wallet: str) -> list[dict[str, object]]:
    return [e for e in await history(api, wallet, limit=100) if e["kind"] == "charge"]


async def test_same_key_and_path_replays_the_answer_without_a_second_charge(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn, 1_000_000)
    key = _key()
    async with payer(api, account) as http:
        first = await http.post("/v1/projects", json={"name": "once"}, headers=key)
        # the retry is paid again by the client (it carries a new, valid payment)…
        again = await http.post("/v1/projects", json={"name": "once"}, headers=key)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    # …which is left unused: one project, one charge, one nonce
    wallet = account.address.lower()
    assert await dbval(pg_dsn, "SELECT count(*) FROM sandbox.projects WHERE wallet = $1", wallet) == 1
    assert len(await _charges(api, account.address)) == 1
    assert await balance(api, account.address) == 900_000
    assert await dbval(pg_dsn, "SELECT count(*) FROM sandbox.nonces WHERE payer = $1", wallet) == 1


async def test_a_retry_without_payment_still_has_to_pay_before_it_is_replayed(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn, 1_000_000)
    key = _key()
    async with payer(api, account) as http:
        first = await http.post("/v1/projects", json={"name": "k"}, headers=key)
    async with httpx.AsyncClient(base_url=api, timeout=30) as plain:
        unpaid = await plain.post("/v1/projects", json={"name": "k"}, headers=key)
    assert first.status_code == 201
    assert unpaid.status_code == 402  # nobody gets a stored answer without proving who pays
    assert first.json()["service_key"] not in unpaid.text


async def test_the_same_key_on_another_path_is_another_call(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn, 1_000_000)
    key = _key()
    async with payer(api, account) as http:
        one = await http.post("/v1/projects", json={"name": "a"}, headers=key)
        two = await http.post("/v1/projects/create/prototype", json={"name": "b"}, headers=key)
    assert one.status_code == two.status_code == 201
    assert one.json()["project_id"] != two.json()["project_id"]
    assert len(await _charges(api, account.address)) == 2


async def test_ten_concurrent_calls_with_one_key_make_one_project_and_one_charge(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn, 2_000_000)
    key = _key()
    clients = [payer(api, account) for _ in range(10)]
    try:
        answers = await asyncio.gather(
            *(c.post("/v1/projects", json={"name": "race"}, headers=key) for c in clients)
        )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers]
    assert len({a.json()["project_id"] for a in answers}) == 1
    assert len({a.text for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 9
    wallet = account.address.lower()
    assert await dbval(pg_dsn, "SELECT count(*) FROM sandbox.projects WHERE wallet = $1", wallet) == 1
    assert len(await _charges(api, account.address)) == 1
    assert await balance(api, account.address) == 1_900_000


async def test_another_wallet_reusing_a_key_does_not_get_the_owners_answer(api: str, pg_dsn: str) -> None:
    alice = await rich_account(pg_dsn, 1_000_000)
    mallory = await rich_account(pg_dsn, 1_000_000)
    key = _key()
    async with payer(api, alice) as http:
        mine = await http.post("/v1/projects", json={"name": "alice"}, headers=key)
    async with payer(api, mallory) as http:
        theirs = await http.post("/v1/projects", json={"name": "mallory"}, headers=key)
    assert mine.status_code == theirs.status_code == 201
    assert theirs.headers.get("Idempotent-Replayed") is None
    assert theirs.json()["project_id"] != mine.json()["project_id"]
    assert mine.json()["service_key"] not in theirs.text and mine.json()["anon_key"] not in theirs.text
    assert theirs.json()["name"] == "mallory"
    assert await balance(api, alice.address) == await balance(api, mallory.address) == 900_000


async def test_renew_with_a_key_twice_extends_once(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn, 1_000_000)
    project = await create(api, account, "renew-once")
    key = _key()
    async with payer(api, account) as http:
        first = await http.post(f"/v1/projects/{project['project_id']}/renew", headers=key)
        again = await http.post(f"/v1/projects/{project['project_id']}/renew", headers=key)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert len(await _charges(api, account.address)) == 2  # creation + one renewal


async def test_admin_sql_with_a_key_sent_twice_replays_instead_of_failing(api: str, pg_dsn: str) -> None:
    project = await create(api, await rich_account(pg_dsn, 200_000), "sql-idem")
    key = _key()
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        first = await sql(http, project, "CREATE TABLE once (id int); INSERT INTO once VALUES (1)", headers=key)
        again = await sql(http, project, "CREATE TABLE once (id int); INSERT INTO once VALUES (1)", headers=key)
        unkeyed = await sql(http, project, "CREATE TABLE once (id int)")
        rows = await sql_ok(http, project, "SELECT count(*) AS n FROM once")
    assert first.status_code == 200, first.text
    assert again.status_code == 200, again.text
    assert again.json() == first.json() == {"status": "ok", "schema": project["schema_slot"], "rows": [],
                                            "rowCount": 1}
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert unkeyed.status_code == 400 and "already exists" in unkeyed.json()["message"]
    assert rows["rows"] == [{"n": 1}]


async def test_a_failed_call_is_not_stored_under_its_key(api: str, pg_dsn: str) -> None:
    project = await create(api, await rich_account(pg_dsn, 200_000), "sql-fail")
    key = _key()
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        failed = await sql(http, project, "INSERT INTO later VALUES (1)", headers=key)
        await sql_ok(http, project, "CREATE TABLE later (id int)")
        retried = await sql(http, project, "INSERT INTO later VALUES (1)", headers=key)
        rows = await sql_ok(http, project, "SELECT count(*) AS n FROM later")
    assert failed.status_code == 400
    assert retried.status_code == 200 and retried.headers.get("Idempotent-Replayed") is None
    assert rows["rows"] == [{"n": 1}]


async def test_admin_sql_key_is_scoped_to_the_credential(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn, 200_000)
    a, b = await create(api, account, "a"), await create(api, account, "b")
    key = _key()
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        one = await sql(http, a, "CREATE TABLE t (id int)", headers=key)
        two = await sql(http, b, "CREATE TABLE t (id int)", headers=key)
    assert one.status_code == two.status_code == 200
    assert two.headers.get("Idempotent-Replayed") is None  # different path and key: really ran
    assert two.json()["schema"] == b["schema_slot"]
    assert await dbval(pg_dsn, "SELECT to_regclass($1) IS NOT NULL", f"{b['schema_slot']}.t")


async def test_rest_insert_with_a_key_twice_inserts_once(api: str, pg_dsn: str) -> None:
    project = await create(api, await rich_account(pg_dsn, 200_000), "rest-idem")
    key = _key()
    headers = {"apikey": project["service_key"], "Prefer": "return=representation", **key}
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE items (id serial PRIMARY KEY, title text)")
        first = await http.post("/rest/v1/items", json=[{"title": "a"}, {"title": "b"}], headers=headers)
        again = await http.post("/rest/v1/items", json=[{"title": "a"}, {"title": "b"}], headers=headers)
        rows = (await http.get("/rest/v1/items?order=id", headers=anon(project))).json()
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json() == [{"id": 1, "title": "a"}, {"id": 2, "title": "b"}]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert rows == [{"id": 1, "title": "a"}, {"id": 2, "title": "b"}]


async def test_rest_patch_with_a_key_twice_applies_once(api: str, pg_dsn: str) -> None:
    project = await create(api, await rich_account(pg_dsn, 200_000), "rest-patch")
    headers = {"apikey": project["service_key"], **_key()}
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE c (id int PRIMARY KEY, n int); INSERT INTO c VALUES (1, 0)")
        # not idempotent by nature: the body is the same but the effect must not repeat
        for _ in range(2):
            answer = await http.patch("/rest/v1/c?id=eq.1", json={"n": 1}, headers=headers)
            assert answer.status_code == 204, answer.text
        await sql_ok(http, project, "UPDATE c SET n = 5")
        replay = await http.patch("/rest/v1/c?id=eq.1", json={"n": 1}, headers=headers)
        rows = (await http.get("/rest/v1/c", headers=service_apikey(project))).json()
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert rows == [{"id": 1, "n": 5}]


def service_apikey(project: dict[str, str]) -> dict[str, str]:
    return {"apikey": project["service_key"]}


async def test_admin_routes_still_check_the_key_before_replaying(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn, 200_000)
    project = await create(api, account, "owner")
    key = _key()
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        first = await sql(http, project, "SELECT 42 AS answer", headers=key)
        anon_retry = await http.post(f"/admin/v1/projects/{project['project_id']}/sql", content=b"SELECT 42 AS answer",
                                     headers={"Authorization": f"Bearer {project['anon_key']}", **key})
    assert first.status_code == 200
    assert anon_retry.status_code == 403
    assert "42" not in anon_retry.text
