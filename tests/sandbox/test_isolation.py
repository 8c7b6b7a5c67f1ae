"""End-to-end: two projects, A and B, cannot reach each other's data by any key or SQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
import pytest_asyncio
from core import anon, apply_rls, assert_error, create, rich_account, service, sql, sql_ok, user

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pair(api: str, pg_dsn: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Projects A and B, each with a table `t` (same name, different rows) and a table only B has."""
    account = await rich_account(pg_dsn, 300_000)
    a, b = await create(api, account, "iso-a"), await create(api, account, "iso-b")
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, a, "CREATE TABLE t (id int, secret text, owner uuid); INSERT INTO t VALUES (1, 'a-data', NULL)")
        await sql_ok(http, b, "CREATE TABLE t (id int, secret text, owner uuid); INSERT INTO t VALUES (2, 'b-data', NULL); "
                              "CREATE TABLE only_b (id int); INSERT INTO only_b VALUES (42)")
    return a, b


async def test_a_service_key_on_bs_admin_routes_is_403(api: str, pair: Any) -> None:
    a, b = pair
    bid = b["project_id"]
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answers = [
            await http.post(f"/admin/v1/projects/{bid}/sql", headers=service(a), content=b"SELECT * FROM t"),
            await http.post(f"/admin/v1/projects/{bid}/sql", headers=service(a), content=b"DROP TABLE t"),
            await http.get(f"/admin/v1/projects/{bid}/schema", headers=service(a)),
            await http.post(f"/admin/v1/projects/{bid}/rls", headers=service(a),
                            json={"template": "public_read_write", "tables": [{"table": "t"}]}),
            await http.delete(f"/v1/projects/{bid}", headers=service(a)),
        ]
        still = await sql_ok(http, b, "SELECT secret FROM t")
    for answer in answers:
        body = assert_error(answer, 403, "wrong_project")
        assert "b-data" not in answer.text and body["message"]
    assert still["rows"] == [{"secret": "b-data"}]


async def test_a_keys_on_rest_resolve_to_as_own_schema(api: str, pair: Any) -> None:
    a, b = pair
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        only_b = await http.get("/rest/v1/only_b", headers=anon(a))
        same_name = await http.get("/rest/v1/t", headers=anon(a))
        service_same_name = await http.get("/rest/v1/t", headers={"apikey": a["service_key"]})
        qualified = await http.get(f"/rest/v1/{b['schema_slot']}.t", headers={"apikey": a["service_key"]})
        # A's key in Authorization wins over B's anon key in apikey
        mixed = await http.get("/rest/v1/t", headers={**anon(b), "Authorization": f"Bearer {a['service_key']}"})
        write = await http.post("/rest/v1/only_b", headers={"apikey": a["service_key"]}, json={"id": 1})
        b_rows = await http.get("/rest/v1/only_b", headers=anon(b))
    assert_error(only_b, 404, "table_not_found")
    assert same_name.json() == [{"id": 1, "secret": "a-data", "owner": None}]
    assert service_same_name.json() == same_name.json()
    assert_error(qualified, 404, "table_not_found")
    assert_error(mixed, 401, "project_mismatch")  # B's anon key beside A's key: refused, not A's data
    assert_error(write, 404, "table_not_found")
    assert b_rows.json() == [{"id": 42}]


@pytest.mark.parametrize("query", [
    "SELECT * FROM {b}.t",
    "SELECT * FROM {b}.only_b",
    "INSERT INTO {b}.t VALUES (9, 'from a', NULL)",
    "CREATE TABLE {b}.planted (id int)",
    "CREATE VIEW peek AS SELECT * FROM {b}.t",
    "SELECT * FROM sandbox.projects",
    "SELECT * FROM sandbox.users",
    "UPDATE sandbox.accounts SET balance_micros = 999999999",
    "SELECT nextval('{b}.t_id_seq')",
])
async def test_a_admin_sql_cannot_reach_b_or_the_sandbox_schema(api: str, pair: Any, query: str) -> None:
    a, b = pair
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answer = await sql(http, a, query.format(b=b["schema_slot"]))
        b_rows = await sql_ok(http, b, "SELECT id, secret FROM t")
    body = assert_error(answer, 400, "sql_error")
    assert body["sqlstate"] == "42501", body
    assert "permission denied" in body["message"]
    assert b_rows["rows"] == [{"id": 2, "secret": "b-data"}]


async def test_a_cannot_read_bs_data_through_the_catalog(api: str, pair: Any) -> None:
    a, b = pair
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, b, "ANALYZE t")  # column statistics hold sample values
        stats = await sql_ok(http, a, f"SELECT count(*) AS n FROM pg_stats WHERE schemaname = '{b['schema_slot']}'")
        own = await sql_ok(http, b, "SELECT count(*) AS n FROM pg_stats WHERE tablename = 't'")
        privilege = await sql(http, a, f"SELECT has_table_privilege('{b['schema_slot']}.t', 'SELECT') AS p")
    assert stats["rows"] == [{"n": 0}]
    assert own["rows"][0]["n"] > 0  # B itself sees them: the filter is by privilege
    assert assert_error(privilege, 400, "sql_error")["sqlstate"] == "42501"


async def test_as_access_token_cannot_reach_bs_rows(api: str, pair: Any) -> None:
    a, b = pair
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        _, a_token = await user(http, a)
        assert (await apply_rls(http, b, "public_read_write", [{"table": "t"}])).status_code == 200
        as_apikey = await http.get("/rest/v1/t", headers={"apikey": a_token})
        with_bs_anon = await http.get("/rest/v1/t", headers={**anon(b), "Authorization": f"Bearer {a_token}"})
        only_b = await http.get("/rest/v1/only_b", headers={"apikey": a_token})
        write_b = await http.post("/rest/v1/only_b", headers={**anon(b), "Authorization": f"Bearer {a_token}"},
                                  json={"id": 7})
        user_on_b = await http.get("/auth/v1/user", headers={**anon(b), "Authorization": f"Bearer {a_token}"})
        b_rows = await sql_ok(http, b, "SELECT id FROM only_b")
    assert "b-data" not in as_apikey.text and "b-data" not in with_bs_anon.text
    assert_error(with_bs_anon, 401, "project_mismatch")
    assert_error(only_b, 404, "table_not_found")
    assert_error(write_b, 401, "project_mismatch")
    assert user_on_b.status_code in (401, 403)
    assert b_rows["rows"] == [{"id": 42}]


async def test_users_of_a_cannot_sign_in_to_b(api: str, pair: Any) -> None:
    a, b = pair
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        email = f"shared-{uuid.uuid4().hex[:8]}@example.com"
        assert (await http.post("/auth/v1/signup", headers=anon(a), json={"email": email, "password": "pw-for-a-1234"})
                ).status_code == 201
        login_b = await http.post("/auth/v1/token", headers=anon(b), json={"email": email, "password": "pw-for-a-1234"})
    assert login_b.status_code in (400, 401)


async def test_a_temp_table_of_a_does_not_shadow_bs_table(api: str, pair: Any) -> None:
    """Session state made by one request must not outlive it on the pooled connection.

    A temp table lives as long as the connection, and `pg_temp` is searched before the
    project's schema: a temp table A creates on a pooled connection shadows B's table of
    the same name in every later request of B that lands on that connection.
    """
    a, b = pair
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        await sql_ok(http, b, "CREATE TABLE shadow (v text); INSERT INTO shadow VALUES ('b-own-row')")
        # enough concurrent calls that every pooled connection gets one
        made = await asyncio.gather(*(
            sql(http, a, "CREATE TEMP TABLE IF NOT EXISTS shadow (v text); SELECT pg_sleep(0.05)")
            for _ in range(40)
        ))
        seen = [await sql(http, b, "SELECT v FROM shadow") for _ in range(10)]
    refused = [m for m in made if m.status_code != 200]
    if refused:  # the sandbox may refuse temp tables outright: that is a fix too
        assert all(m.status_code in (400, 403) for m in refused)
    for answer in seen:
        assert answer.status_code == 200, answer.text
        assert answer.json()["rows"] == [{"v": "b-own-row"}]


async def test_a_prepared_statement_does_not_outlive_its_request(api: str, pair: Any) -> None:
    """`PREPARE` is session state too: a name left on a pooled connection collides later."""
    a, b = pair
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        first = await asyncio.gather(*(sql(http, a, "PREPARE leak AS SELECT 1; SELECT pg_sleep(0.05)")
                                       for _ in range(40)))
        later = await sql(http, b, "PREPARE leak AS SELECT 2 AS two; EXECUTE leak")  # B's first use of the name
    if all(f.status_code == 403 for f in first):
        return  # refused outright by the gate: nothing can leak
    assert later.status_code == 200, later.text
    assert later.json()["rows"] == [{"two": 2}]
