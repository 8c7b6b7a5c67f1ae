"""End-to-end: /rest/v1 in PostgREST syntax over real Postgres: reads, writes, keys, errors, CORS."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio
from core import anon, apply_rls, assert_error, create, rich_account, sql_ok

pytestmark = pytest.mark.asyncio(loop_scope="session")

REPR = {"Prefer": "return=representation"}
ROWS = """
CREATE TABLE items (id int PRIMARY KEY, name text, qty int, price numeric, done boolean, tag text);
INSERT INTO items VALUES
  (1, 'apple', 5, 1.5, true, 'fruit'),
  (2, 'banana', 10, 0.25, false, 'fruit'),
  (3, 'carrot', 5, 0.1, false, NULL),
  (4, 'Apple pie', 1, 12, true, 'baked'),
  (5, 'bread', 3, 2.5, NULL, 'baked');
"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def project(api: str, pg_dsn: str) -> dict[str, Any]:
    made = await create(api, await rich_account(pg_dsn, 200_000), "rest")
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, made, ROWS)
    return made


@pytest_asyncio.fixture(loop_scope="session")
async def fresh(api: str, pg_dsn: str) -> dict[str, Any]:
    """A project of its own, for tests that write."""
    return await create(api, await rich_account(pg_dsn, 200_000), "rest-writes")


def svc(project: dict[str, Any]) -> dict[str, str]:
    return {"apikey": project["service_key"]}


async def ids(http: httpx.AsyncClient, project: dict[str, Any], query: str) -> list[int]:
    answer = await http.get(f"/rest/v1/items?{query}", headers=anon(project))
    assert answer.status_code == 200, answer.text
    return [row["id"] for row in answer.json()]


# --- reads -----------------------------------------------------------------------------


async def test_select_all_and_some_columns(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        everything = await http.get("/rest/v1/items?id=eq.1", headers=anon(project))
        some = await http.get("/rest/v1/items?select=name,id&order=id&limit=2", headers=anon(project))
    assert everything.headers["content-type"].startswith("application/json")
    assert everything.json() == [{"id": 1, "name": "apple", "qty": 5, "price": 1.5, "done": True, "tag": "fruit"}]
    assert some.json() == [{"name": "apple", "id": 1}, {"name": "banana", "id": 2}]


@pytest.mark.parametrize(("query", "expected"), [
    ("id=eq.3", [3]),
    ("id=neq.3", [1, 2, 4, 5]),
    ("qty=gt.3", [1, 2, 3]),
    ("qty=gte.5", [1, 2, 3]),
    ("qty=lt.5", [4, 5]),
    ("qty=lte.3", [4, 5]),
    ("price=gt.1", [1, 4, 5]),
    ("name=like.a*", [1]),
    ("name=like.*pp*", [1, 4]),
    ("name=like.%2Ap%25e", [1, 4]),
    ("name=ilike.*PIE", [4]),
    ("name=ilike.A*", [1, 4]),
    ("tag=is.null", [3]),
    ("done=is.true", [1, 4]),
    ("done=is.false", [2, 3]),
    ("done=is.null", [5]),
    ("id=in.(1,3,5)", [1, 3, 5]),
    ('name=in.("Apple pie",bread)', [4, 5]),
    ("id=in.()", []),
    ("id=not.eq.3", [1, 2, 4, 5]),
    ("qty=not.gt.3", [4, 5]),
    ("tag=not.is.null", [1, 2, 4, 5]),
    ("id=not.in.(1,2)", [3, 4, 5]),
    ("name=not.ilike.a*", [2, 3, 5]),
    ("tag=eq.fruit&qty=gt.5", [2]),
    ("id=gt.1&id=lt.4", [2, 3]),
    ("or=(id.eq.1,qty.lt.3)", [1, 4]),
    ("not.or=(tag.eq.fruit,tag.is.null)", [4, 5]),
    ("or=(id.eq.5,and(done.is.true,qty.gt.1))", [1, 5]),
])
async def test_filters(api: str, project: dict[str, Any], query: str, expected: list[int]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        assert await ids(http, project, f"{query}&order=id") == expected


@pytest.mark.parametrize(("order", "expected"), [
    ("id.desc", [5, 4, 3, 2, 1]),
    ("done.asc,qty.desc", [2, 3, 1, 4, 5]),
    ("done.desc,id", [5, 1, 4, 2, 3]),  # NULLs first when descending, as in Postgres
    ("tag.desc.nullslast,id.asc", [1, 2, 4, 5, 3]),
    ("tag.asc.nullsfirst,name.desc", [3, 5, 4, 2, 1]),
    ("qty,price.desc", [4, 5, 1, 3, 2]),
])
async def test_order_on_several_columns(api: str, project: dict[str, Any], order: str, expected: list[int]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        assert await ids(http, project, f"order={order}") == expected


async def test_limit_offset_and_content_range(api: str, project: dict[str, Any]) -> None:
    exact = {**anon(project), "Prefer": "count=exact"}
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        page = await http.get("/rest/v1/items?order=id&limit=2&offset=1", headers=anon(project))
        counted = await http.get("/rest/v1/items?order=id&limit=2&offset=1", headers=exact)
        filtered = await http.get("/rest/v1/items?tag=eq.baked&order=id", headers=exact)
        everything = await http.get("/rest/v1/items", headers=anon(project))
        past_end = await http.get("/rest/v1/items?offset=10", headers=exact)
        past_end_uncounted = await http.get("/rest/v1/items?offset=10", headers=anon(project))
        limit0 = await http.get("/rest/v1/items?limit=0", headers=exact)
    assert [r["id"] for r in page.json()] == [2, 3]
    assert page.headers["Content-Range"] == "1-2/*"
    assert counted.json() == page.json() and counted.headers["Content-Range"] == "1-2/5"
    assert [r["id"] for r in filtered.json()] == [4, 5] and filtered.headers["Content-Range"] == "0-1/2"
    assert everything.headers["Content-Range"] == "0-4/*"
    assert past_end.json() == [] and past_end.headers["Content-Range"] == "*/5"
    assert past_end_uncounted.headers["Content-Range"] == "*/*"
    assert limit0.json() == [] and limit0.headers["Content-Range"] == "*/5"


@pytest.mark.parametrize(("path", "headers", "status"), [
    ("/rest/v1/items?order=id.desc&limit=2&offset=1", "anon", 200),
    ("/rest/v1/items?tag=eq.baked", "count", 200),
    ("/rest/v1/items?limit=1&limit=2", "anon", 400),
    ("/rest/v1/no_such_table", "anon", 404),
    ("/rest/v1/items", "none", 401),
])
async def test_a_read_is_the_same_from_a_server_and_from_a_browser(
    api: str, project: dict[str, Any], path: str, headers: str, status: int,
) -> None:
    # A server-side read takes the fast path, a browser's (Origin) the full app.
    sent = {"anon": anon(project), "count": {**anon(project), "Prefer": "count=exact"}, "none": {}}[headers]
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        server = await http.get(path, headers=sent)
        browser = await http.get(path, headers={**sent, "Origin": "http://shop.localhost:8402"})
    assert server.status_code == browser.status_code == status
    assert server.json() == browser.json()
    assert server.headers.get("content-range") == browser.headers.get("content-range")
    assert server.headers["content-type"] == browser.headers["content-type"]
    assert browser.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in server.headers


# --- writes ----------------------------------------------------------------------------


async def test_insert_update_delete(api: str, fresh: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, fresh, "CREATE TABLE t (id serial PRIMARY KEY, title text NOT NULL, n int DEFAULT 7)")
        one = await http.post("/rest/v1/t", headers=svc(fresh), json={"title": "one"})
        assert one.status_code == 201 and one.content == b""
        many = await http.post("/rest/v1/t", headers={**svc(fresh), **REPR},
                               json=[{"title": "two", "n": 2}, {"title": "three"}])
        assert many.status_code == 201
        # as in PostgREST: a key only some rows have is NULL where missing
        assert many.json() == [{"id": 2, "title": "two", "n": 2}, {"id": 3, "title": "three", "n": None}]
        # a column no row mentions gets its default
        assert (await http.get("/rest/v1/t?id=eq.1", headers=anon(fresh))).json() == [
            {"id": 1, "title": "one", "n": 7}]

        patched = await http.patch("/rest/v1/t?n=is.null", headers=svc(fresh), json={"n": 8})
        assert patched.status_code == 204 and patched.content == b""
        patched_repr = await http.patch("/rest/v1/t?id=in.(2,3)&order=id", headers={**svc(fresh), **REPR},
                                        json={"title": "renamed"})
        assert patched_repr.status_code == 200
        assert sorted(r["id"] for r in patched_repr.json()) == [2, 3]
        assert {r["title"] for r in patched_repr.json()} == {"renamed"}

        deleted = await http.delete("/rest/v1/t?id=eq.1", headers=svc(fresh))
        assert deleted.status_code == 204
        deleted_repr = await http.delete("/rest/v1/t?title=eq.renamed&n=eq.2", headers={**svc(fresh), **REPR})
        assert deleted_repr.json() == [{"id": 2, "title": "renamed", "n": 2}]
        nothing = await http.delete("/rest/v1/t?id=eq.999", headers={**svc(fresh), **REPR})
        assert nothing.status_code == 200 and nothing.json() == []

        left = await http.get("/rest/v1/t", headers=anon(fresh))
    assert left.json() == [{"id": 3, "title": "renamed", "n": 8}]


async def test_anon_reads_but_cannot_write_a_table_without_rls(api: str, fresh: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, fresh, "CREATE TABLE open (id int PRIMARY KEY, v text); INSERT INTO open VALUES (1, 'x')")
        read = await http.get("/rest/v1/open", headers=anon(fresh))
        post = await http.post("/rest/v1/open", headers=anon(fresh), json={"id": 2})
        patch = await http.patch("/rest/v1/open?id=eq.1", headers=anon(fresh), json={"v": "y"})
        delete = await http.delete("/rest/v1/open?id=eq.1", headers=anon(fresh))
        after = await http.get("/rest/v1/open", headers=anon(fresh))
    assert read.json() == [{"id": 1, "v": "x"}]
    for answer in (post, patch, delete):
        body = assert_error(answer, 403, "permission_denied")
        assert "read-only" in body["hint"]
    assert after.json() == [{"id": 1, "v": "x"}]


async def test_service_key_bypasses_rls(api: str, fresh: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, fresh, "CREATE TABLE private (id serial PRIMARY KEY, owner uuid, v text); "
                                  "INSERT INTO private (owner, v) VALUES (gen_random_uuid(), 'a'), (NULL, 'b')")
        assert (await apply_rls(http, fresh, "user_owns_rows", [{"table": "private", "owner_column": "owner"}])
                ).status_code == 200
        as_anon = await http.get("/rest/v1/private", headers=anon(fresh))
        as_service = await http.get("/rest/v1/private?order=id", headers=svc(fresh))
        wrote = await http.post("/rest/v1/private", headers={**svc(fresh), **REPR}, json={"v": "c"})
        edited = await http.patch("/rest/v1/private", headers=svc(fresh), json={"v": "all"})
        seen = await http.get("/rest/v1/private?select=v", headers=svc(fresh))
    assert as_anon.json() == []
    assert [r["v"] for r in as_service.json()] == ["a", "b"]
    assert wrote.status_code == 201 and wrote.json()[0]["owner"] is None  # no user: auth.uid() is NULL
    assert edited.status_code == 204
    assert seen.json() == [{"v": "all"}] * 3


async def test_a_table_created_a_moment_ago_is_served_at_once(api: str, fresh: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        for n in range(3):
            await sql_ok(http, fresh, f"CREATE TABLE just_now_{n} (id int)")
            assert (await http.get(f"/rest/v1/just_now_{n}", headers=anon(fresh))).status_code == 200
            assert (await http.post(f"/rest/v1/just_now_{n}", headers=svc(fresh), json={"id": n})).status_code == 201
            await sql_ok(http, fresh, f"ALTER TABLE just_now_{n} ADD COLUMN added text DEFAULT 'new'")
            assert (await http.get(f"/rest/v1/just_now_{n}", headers=anon(fresh))).json() == [
                {"id": n, "added": "new"}]
            await sql_ok(http, fresh, f"DROP TABLE just_now_{n}")
            assert_error(await http.get(f"/rest/v1/just_now_{n}", headers=anon(fresh)), 404, "table_not_found")


# --- errors ----------------------------------------------------------------------------


async def test_unknown_table_is_404_json(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        for method in ("GET", "POST", "PATCH", "DELETE"):
            answer = await http.request(method, "/rest/v1/nope?id=eq.1", headers=svc(project),
                                        json={"id": 1} if method in ("POST", "PATCH") else None)
            body = assert_error(answer, 404, "table_not_found")
            assert "nope" in body["message"]
        # names are case-sensitive and never reach another schema
        assert_error(await http.get("/rest/v1/Items", headers=anon(project)), 404, "table_not_found")
        assert_error(await http.get("/rest/v1/pg_class", headers=anon(project)), 404, "table_not_found")


@pytest.mark.parametrize(("query", "words"), [
    ("id=foo.1", "unknown operator 'foo'"),
    ("id=eq", "no operator"),
    ("id=in.1,2", "cannot read list"),
    ("done=is.maybe", "is.maybe"),
    ("limit=abc", "limit must be a non-negative integer"),
    ("limit=-1", "limit must be a non-negative integer"),
    ("offset=x", "offset must be a non-negative integer"),
    ("order=id.sideways", "unknown order modifier"),
    ("select=id,items(name)", "not supported"),
    ("or=id.eq.1", "expected a non-empty"),
    ("limit=1&limit=2", "more than once"),
])
async def test_malformed_queries_are_400_with_a_message(api: str, project: dict[str, Any], query: str,
                                                        words: str) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answer = await http.get(f"/rest/v1/items?{query}", headers=anon(project))
    body = assert_error(answer, 400, "invalid_query")
    assert words in body["message"], body
    assert body["hint"]


@pytest.mark.parametrize(("query", "sqlstate"), [
    ("id=eq.abc", "22P02"),
    ("nope=eq.1", "42703"),
    ("select=nope", "42703"),
    ("order=nope", "42703"),
    ("done=gt.maybe", "22P02"),
])
async def test_postgres_rejections_are_400_with_sqlstate(api: str, project: dict[str, Any], query: str,
                                                         sqlstate: str) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answer = await http.get(f"/rest/v1/items?{query}", headers=anon(project))
    body = assert_error(answer, 400, "bad_request")
    assert body["sqlstate"] == sqlstate


async def test_write_errors_are_json(api: str, fresh: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, fresh, "CREATE TABLE strict (id int PRIMARY KEY, v text NOT NULL)")
        assert (await http.post("/rest/v1/strict", headers=svc(fresh), json={"id": 1, "v": "a"})).status_code == 201
        invalid_json = await http.post("/rest/v1/strict", headers={**svc(fresh), "Content-Type": "application/json"},
                                       content=b"{nope")
        not_objects = await http.post("/rest/v1/strict", headers=svc(fresh), json=[1, 2])
        empty_patch = await http.patch("/rest/v1/strict?id=eq.1", headers=svc(fresh), json={})
        null_value = await http.post("/rest/v1/strict", headers=svc(fresh), json={"id": 2})
        duplicate = await http.post("/rest/v1/strict", headers=svc(fresh), json={"id": 1, "v": "b"})
        unknown_column = await http.post("/rest/v1/strict", headers=svc(fresh), json={"id": 3, "v": "c", "zzz": 1})
        bad_type = await http.patch("/rest/v1/strict?id=eq.1", headers=svc(fresh), json={"id": "one"})
    assert_error(invalid_json, 400, "invalid_json")
    assert_error(not_objects, 400, "invalid_body")
    assert_error(empty_patch, 400, "invalid_body")
    assert assert_error(null_value, 400, "bad_request")["sqlstate"] == "23502"
    dup = assert_error(duplicate, duplicate.status_code)
    assert duplicate.status_code in (400, 409) and dup["sqlstate"] == "23505"
    assert_error(unknown_column, 400)
    assert_error(bad_type, 400)


async def test_keys(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        none = await http.get("/rest/v1/items")
        junk = await http.get("/rest/v1/items", headers={"apikey": "junk"})
        bearer_junk = await http.get("/rest/v1/items", headers={**anon(project), "Authorization": "Bearer junk"})
        bearer_anon = await http.get("/rest/v1/items?id=eq.1", headers={"Authorization": f"Bearer {project['anon_key']}"})
    assert_error(none, 401, "missing_key")
    assert_error(junk, 401, "invalid_key")
    assert_error(bearer_junk, 401, "invalid_key")
    assert [r["id"] for r in bearer_anon.json()] == [1]


# --- CORS ------------------------------------------------------------------------------


async def test_cors_preflight_and_headers(api: str, project: dict[str, Any]) -> None:
    origin = "http://todo.localhost:8402"
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        preflight = await http.options("/rest/v1/x", headers={
            "Origin": origin, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "apikey,content-type",
        })
        got = await http.get("/rest/v1/items?limit=1", headers={**anon(project), "Origin": origin})
        error = await http.get("/rest/v1/nope", headers={**anon(project), "Origin": origin})
        paid = await http.post("/v1/projects", headers={"Origin": origin})
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["Access-Control-Allow-Origin"] in ("*", origin)
    allowed = {h.strip().lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"apikey", "content-type"} <= allowed or "*" in allowed
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert got.status_code == 200
    assert got.headers["Access-Control-Allow-Origin"] in ("*", origin)
    assert "content-range" in got.headers["Access-Control-Expose-Headers"].lower()
    assert error.status_code == 404 and error.headers["Access-Control-Allow-Origin"] in ("*", origin)
    # a browser app can read the 402's payment terms
    assert paid.status_code == 402 and paid.headers["Access-Control-Allow-Origin"] in ("*", origin)
    assert "payment-required" in paid.headers["Access-Control-Expose-Headers"].lower()
