"""End-to-end: the three RLS templates with two signed-up users and the anon key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio
from core import anon, apply_rls, assert_error, create, rich_account, schema_of, sql_ok, user

pytestmark = pytest.mark.asyncio(loop_scope="session")

REPR = {"Prefer": "return=representation"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def project(api: str, pg_dsn: str) -> dict[str, Any]:
    return await create(api, await rich_account(pg_dsn, 200_000), "rls")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def users(api: str, project: dict[str, Any]) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two users of the project: (id, access token) each."""
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        return await user(http, project), await user(http, project)


def key(token: str) -> dict[str, str]:
    return {"apikey": token}


def table_schema(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in body["tables"] if t["name"] == name)


async def test_user_owns_rows(api: str, project: dict[str, Any], users: Any) -> None:
    (alice_id, alice), (bob_id, bob) = users
    svc = {"apikey": project["service_key"]}
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE todos (id serial PRIMARY KEY, task text NOT NULL, user_id uuid)")
        applied = await apply_rls(http, project, "user_owns_rows", [{"table": "todos", "owner_column": "user_id"}])
        assert applied.status_code == 200, applied.text
        assert applied.json() == {"status": "ok", "template": "user_owns_rows", "tables": ["todos"]}

        # an insert without user_id gets the caller's id
        a = await http.post("/rest/v1/todos", headers={**key(alice), **REPR}, json={"task": "alice's"})
        b = await http.post("/rest/v1/todos", headers={**key(bob), **REPR}, json=[{"task": "bob 1"}, {"task": "bob 2"}])
        assert a.status_code == b.status_code == 201, (a.text, b.text)
        assert a.json() == [{"id": 1, "task": "alice's", "user_id": alice_id}]
        assert [r["user_id"] for r in b.json()] == [bob_id, bob_id]

        # each user sees only their own rows; anon sees nothing; the service key sees all
        assert [r["task"] for r in (await http.get("/rest/v1/todos?order=id", headers=key(alice))).json()] == ["alice's"]
        assert [r["task"] for r in (await http.get("/rest/v1/todos?order=id", headers=key(bob))).json()] == [
            "bob 1", "bob 2"]
        seen_by_anon = await http.get("/rest/v1/todos", headers=anon(project))
        assert seen_by_anon.status_code == 200 and seen_by_anon.json() == []
        assert len((await http.get("/rest/v1/todos", headers=svc)).json()) == 3
        # the access token also works as Authorization: Bearer next to the anon key
        bearer = await http.get("/rest/v1/todos", headers={**anon(project), "Authorization": f"Bearer {alice}"})
        assert [r["task"] for r in bearer.json()] == ["alice's"]

        # alice cannot update or delete bob's rows: nothing matches
        patched = await http.patch("/rest/v1/todos?id=eq.2", headers={**key(alice), **REPR}, json={"task": "mine!"})
        assert patched.status_code == 200 and patched.json() == []
        deleted = await http.delete("/rest/v1/todos?user_id=eq." + bob_id, headers={**key(alice), **REPR})
        assert deleted.status_code == 200 and deleted.json() == []
        # nor write a row in bob's name, nor give him hers
        forged = await http.post("/rest/v1/todos", headers=key(alice), json={"task": "as bob", "user_id": bob_id})
        assert_error(forged, 403, "permission_denied")
        handed = await http.patch("/rest/v1/todos?id=eq.1", headers=key(alice), json={"user_id": bob_id})
        assert_error(handed, 403, "permission_denied")
        # her own rows she edits and deletes
        mine = await http.patch("/rest/v1/todos?id=eq.1", headers={**key(alice), **REPR}, json={"task": "done"})
        assert mine.json() == [{"id": 1, "task": "done", "user_id": alice_id}]
        # anon can write nothing
        assert_error(await http.post("/rest/v1/todos", headers=anon(project), json={"task": "anon"}), 403)
        assert_error(await http.patch("/rest/v1/todos?id=eq.1", headers=anon(project), json={"task": "x"}), 403)
        assert_error(await http.delete("/rest/v1/todos?id=eq.1", headers=anon(project)), 403)

        gone = await http.delete("/rest/v1/todos?id=eq.1", headers={**key(alice), **REPR})
        assert [r["id"] for r in gone.json()] == [1]
        rows = (await http.get("/rest/v1/todos?order=id", headers=svc)).json()
    assert [(r["task"], r["user_id"]) for r in rows] == [("bob 1", bob_id), ("bob 2", bob_id)]


async def test_user_owns_rows_with_a_text_owner_column(api: str, project: dict[str, Any], users: Any) -> None:
    (alice_id, alice), (_, bob) = users
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE notes (id serial PRIMARY KEY, body text, owner text)")
        assert (await apply_rls(http, project, "user_owns_rows",
                                [{"table": "notes", "owner_column": "owner"}])).status_code == 200
        wrote = await http.post("/rest/v1/notes", headers=key(alice), json={"body": "hi", "owner": alice_id})
        assert wrote.status_code == 201, wrote.text
        assert (await http.get("/rest/v1/notes", headers=key(alice))).json() == [
            {"id": 1, "body": "hi", "owner": alice_id}]
        assert (await http.get("/rest/v1/notes", headers=key(bob))).json() == []


async def test_public_read(api: str, project: dict[str, Any], users: Any) -> None:
    (_, alice), (_, bob) = users
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE news (id serial PRIMARY KEY, title text); "
                                    "INSERT INTO news (title) VALUES ('first')")
        assert (await apply_rls(http, project, "public_read", [{"table": "news"}])).status_code == 200
        read = await http.get("/rest/v1/news", headers=anon(project))
        assert read.status_code == 200 and read.json() == [{"id": 1, "title": "first"}]
        denied = await http.post("/rest/v1/news", headers=anon(project), json={"title": "anon"})
        body = assert_error(denied, 403, "permission_denied")
        assert "sign in" in body["hint"]
        assert_error(await http.patch("/rest/v1/news?id=eq.1", headers=anon(project), json={"title": "x"}), 403)
        assert_error(await http.delete("/rest/v1/news?id=eq.1", headers=anon(project)), 403)
        # signed-in users write, any row
        assert (await http.post("/rest/v1/news", headers=key(alice), json={"title": "by alice"})).status_code == 201
        edited = await http.patch("/rest/v1/news?id=eq.2", headers={**key(bob), **REPR}, json={"title": "by bob"})
        assert edited.json() == [{"id": 2, "title": "by bob"}]
        assert (await http.delete("/rest/v1/news?id=eq.1", headers=key(bob))).status_code == 204
        assert (await http.get("/rest/v1/news", headers=anon(project))).json() == [{"id": 2, "title": "by bob"}]


async def test_public_read_write(api: str, project: dict[str, Any], users: Any) -> None:
    (_, alice), _ = users
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE guestbook (id serial PRIMARY KEY, msg text)")
        assert (await apply_rls(http, project, "public_read_write", [{"table": "guestbook"}])).status_code == 200
        wrote = await http.post("/rest/v1/guestbook", headers={**anon(project), **REPR}, json={"msg": "hello"})
        assert wrote.status_code == 201, wrote.text
        assert wrote.json() == [{"id": 1, "msg": "hello"}]
        assert (await http.post("/rest/v1/guestbook", headers=key(alice), json={"msg": "hi"})).status_code == 201
        assert (await http.patch("/rest/v1/guestbook?id=eq.2", headers=anon(project), json={"msg": "edited"})
                ).status_code == 204
        assert (await http.delete("/rest/v1/guestbook?id=eq.1", headers=anon(project))).status_code == 204
        assert (await http.get("/rest/v1/guestbook", headers=anon(project))).json() == [{"id": 2, "msg": "edited"}]


async def test_switching_a_table_to_a_stricter_template_takes_anons_writes_away(
    api: str, project: dict[str, Any],
) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE wall (id serial PRIMARY KEY, msg text)")
        assert (await apply_rls(http, project, "public_read_write", [{"table": "wall"}])).status_code == 200
        assert (await http.post("/rest/v1/wall", headers=anon(project), json={"msg": "a"})).status_code == 201
        assert (await apply_rls(http, project, "public_read", [{"table": "wall"}])).status_code == 200
        assert_error(await http.post("/rest/v1/wall", headers=anon(project), json={"msg": "b"}), 403)
        policies = table_schema(await schema_of(http, project), "wall")["policies"]
    assert sorted(p["name"] for p in policies) == ["aw_auth_delete", "aw_auth_insert", "aw_auth_update",
                                                   "aw_public_read"]


async def test_applying_the_same_template_twice_changes_nothing(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE twice (id serial PRIMARY KEY, owner_id uuid); "
                                    "CREATE TABLE twice_b (id int)")
        rules = [{"table": "twice", "owner_column": "owner_id"}]
        assert (await apply_rls(http, project, "user_owns_rows", rules)).status_code == 200
        once = await schema_of(http, project)
        assert (await apply_rls(http, project, "user_owns_rows", rules)).status_code == 200
        again = await schema_of(http, project)
        assert (await apply_rls(http, project, "public_read", [{"table": "twice_b"}])).status_code == 200
        assert (await apply_rls(http, project, "public_read", [{"table": "twice_b"}])).status_code == 200
        b_twice = table_schema(await schema_of(http, project), "twice_b")
    assert table_schema(again, "twice") == table_schema(once, "twice")
    assert len(table_schema(again, "twice")["policies"]) == 1
    assert b_twice["rls_enabled"] is True and len(b_twice["policies"]) == 4


async def test_two_calls_on_different_tables_compose(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE comp_a (id int, uid uuid); CREATE TABLE comp_b (id int); "
                                    "CREATE TABLE comp_c (id int); INSERT INTO comp_b VALUES (1)")
        assert (await apply_rls(http, project, "user_owns_rows", [{"table": "comp_a", "owner_column": "uid"}])
                ).status_code == 200
        # one call may name several tables
        assert (await apply_rls(http, project, "public_read_write", [{"table": "comp_b"}, {"table": "comp_c"}])
                ).status_code == 200
        body = await schema_of(http, project)
        assert (await http.get("/rest/v1/comp_b", headers=anon(project))).json() == [{"id": 1}]
        assert (await http.post("/rest/v1/comp_c", headers=anon(project), json={"id": 2})).status_code == 201
        assert_error(await http.post("/rest/v1/comp_a", headers=anon(project), json={"id": 2}), 403)
    assert [p["name"] for p in table_schema(body, "comp_a")["policies"]] == ["aw_owner_all"]
    assert [p["name"] for p in table_schema(body, "comp_b")["policies"]] == ["aw_public_all"]
    assert [p["name"] for p in table_schema(body, "comp_c")["policies"]] == ["aw_public_all"]


async def test_a_users_own_policy_survives_a_template(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE custom (id int); ALTER TABLE custom ENABLE ROW LEVEL SECURITY; "
                                    "CREATE POLICY mine ON custom FOR SELECT USING (id > 0)")
        assert (await apply_rls(http, project, "public_read", [{"table": "custom"}])).status_code == 200
        policies = table_schema(await schema_of(http, project), "custom")["policies"]
    assert "mine" in [p["name"] for p in policies]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"template": "owner_only", "tables": [{"table": "todos"}]}, 400, "unknown_template"),
    ({"template": "user_owns_rows", "tables": [{"table": "todos"}]}, 400, "owner_column_required"),
    ({"template": "user_owns_rows", "tables": [{"table": "todos", "owner_column": "nope"}]}, 400,
     "owner_column_not_found"),
    ({"template": "public_read", "tables": [{"table": "no_such_table"}]}, 404, "table_not_found"),
    ({"template": "public_read", "tables": []}, 400, "invalid_rls_request"),
    ({"template": "public_read"}, 400, "invalid_rls_request"),
    ({"tables": [{"table": "todos"}]}, 400, "invalid_rls_request"),
    ({"template": "public_read", "tables": ["todos"]}, 400, "invalid_rls_request"),
])
async def test_bad_rls_requests(api: str, project: dict[str, Any], body: dict[str, Any], status: int,
                                code: str) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE IF NOT EXISTS todos (id serial PRIMARY KEY, task text, user_id uuid)")
        answer = await http.post(f"/admin/v1/projects/{project['project_id']}/rls",
                                 headers={"Authorization": f"Bearer {project['service_key']}"}, json=body)
    assert_error(answer, status, code)


async def test_a_bad_entry_applies_nothing(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE atomic (id int)")
        answer = await apply_rls(http, project, "public_read_write", [{"table": "atomic"}, {"table": "missing"}])
        assert answer.status_code == 404
        atomic = table_schema(await schema_of(http, project), "atomic")
    assert atomic["rls_enabled"] is False and atomic["policies"] == []


async def test_rls_needs_the_service_key(api: str, project: dict[str, Any], users: Any) -> None:
    (_, alice), _ = users
    path = f"/admin/v1/projects/{project['project_id']}/rls"
    body = {"template": "public_read_write", "tables": [{"table": "todos"}]}
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        assert_error(await http.post(path, json=body), 401)
        assert_error(await http.post(path, json=body, headers={"Authorization": f"Bearer {project['anon_key']}"}), 403)
        assert_error(await http.post(path, json=body, headers={"Authorization": f"Bearer {alice}"}), 403)
