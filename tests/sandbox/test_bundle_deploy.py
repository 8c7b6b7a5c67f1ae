"""End-to-end: bundle deploy, `POST /v1/deploy/:tier` (x402): a whole app in one atomic paid call."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from core import anon, assert_error, db, dbval, rich_account
from paying import balance, history, payer

pytestmark = pytest.mark.asyncio(loop_scope="session")

SUMMARIZE = """
export default async (req) => {
  const { text } = await req.json();
  return new Response(JSON.stringify({ result: text.slice(0, 5), key: process.env.OPENAI_API_KEY }),
                      { headers: { 'Content-Type': 'application/json' } });
};
"""


def manifest(app_name: str, /, **parts: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": app_name,
        "migrations": "CREATE TABLE posts (id serial PRIMARY KEY, title text NOT NULL, user_id uuid); "
                      "CREATE TABLE tags (id serial PRIMARY KEY, post_id int REFERENCES posts(id));",
        "rls": {"template": "public_read", "tables": [{"table": "posts"}]},
        "secrets": [{"key": "OPENAI_API_KEY", "value": "sk-test"}],
        "functions": [{"name": "summarize", "code": SUMMARIZE}],
        "site": [{"file": "index.html", "data": "<!DOCTYPE html><h1>bundle</h1>"}],
        "subdomain": f"b-{uuid.uuid4().hex[:10]}",
    }
    body.update(parts)
    return body


async def footprint(pg_dsn: str) -> dict[str, int]:
    """How many of each thing a deploy leaves in the database."""
    counts = {}
    for name, sql in {
        "projects": "SELECT count(*) FROM sandbox.projects",
        "schemas": "SELECT count(*) FROM pg_namespace WHERE nspname ~ '^p[0-9]+$'",
        "roles": "SELECT count(*) FROM pg_roles WHERE rolname ~ '^p[0-9]+_'",
        "deployments": "SELECT count(*) FROM sandbox.deployments",
        "files": "SELECT count(*) FROM sandbox.deployment_files",
        "subdomains": "SELECT count(*) FROM sandbox.subdomains",
        "functions": "SELECT count(*) FROM sandbox.functions",
        "secrets": "SELECT count(*) FROM sandbox.secrets",
    }.items():
        counts[name] = int(await dbval(pg_dsn, sql))
    return counts


async def test_a_whole_app_in_one_call(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn)
    body = manifest("my-saas")
    async with payer(api, account) as http:
        answer = await http.post("/v1/deploy/prototype", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert answer.status_code == 201, answer.text
    got = answer.json()
    for field in ("project_id", "anon_key", "service_key", "site_url", "deployment_id", "subdomain_url"):
        assert got[field], field
    assert got["functions"] == [{"name": "summarize", "url": f"{api}/functions/v1/summarize"}]
    assert got["subdomain_url"].startswith(f"http://{body['subdomain']}.localhost:")
    assert got["secrets"] == ["OPENAI_API_KEY"]
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        called = await http.post("/functions/v1/summarize", headers=anon(got), json={"text": "hello world"})
        rows = await http.get("/rest/v1/posts", headers=anon(got))
        site = await http.get("/", headers={"Host": f"{body['subdomain']}.localhost"})
        schema = await http.get(f"/admin/v1/projects/{got['project_id']}/schema",
                                headers={"Authorization": f"Bearer {got['service_key']}"})
    assert called.json() == {"result": "hello", "key": "sk-test"}
    assert rows.status_code == 200 and rows.json() == []
    assert "bundle" in site.text
    tables = {t["name"]: t for t in schema.json()["tables"]}
    assert set(tables) == {"posts", "tags"} and tables["posts"]["rls_enabled"]
    charges = [e for e in await history(api, account.address) if e["kind"] == "charge"]
    assert [c["amount_usd_micros"] for c in charges] == [-100_000]  # the site fee is included


async def test_replay_pays_once(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = manifest("replayed")
    async with payer(api, account) as http:
        first = await http.post("/v1/deploy/prototype", json=body, headers=key)
        second = await http.post("/v1/deploy/prototype", json=body, headers=key)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("idempotent-replayed") == "true"
    assert first.json() == second.json()
    assert await balance(api, account.address) == 2_000_000 - 100_000
    assert await dbval(pg_dsn, "SELECT count(*) FROM sandbox.projects WHERE wallet = $1", account.address.lower()) == 1


@pytest.mark.parametrize(("parts", "status", "code", "part"), [
    # a good migration, then a bad one: the first table must not survive
    ({"migrations": "CREATE TABLE ok_first (id int); CREATE TABLE bad (x int REFERENCES missing(id));"},
     400, "migration_failed", "migrations"),
    # RLS on a table the migrations did not make: after tables, before the site
    ({"rls": {"template": "public_read", "tables": [{"table": "ghost"}]}}, None, None, "rls"),
])
async def test_a_failure_midway_leaves_nothing(
    api: str, pg_dsn: str, parts: dict[str, Any], status: int | None, code: str | None, part: str,
) -> None:
    account = await rich_account(pg_dsn)
    before = await footprint(pg_dsn)
    async with payer(api, account) as http:
        answer = await http.post("/v1/deploy/prototype", json=manifest("midway", **parts))
    assert 400 <= answer.status_code < 500, answer.text
    error = assert_error(answer, status or answer.status_code, code)
    assert error.get("part") == part
    assert await footprint(pg_dsn) == before
    assert await balance(api, account.address) == 2_000_000  # nothing charged


async def test_a_taken_subdomain_at_the_end_rolls_everything_back(api: str, pg_dsn: str) -> None:
    taken = manifest("first")
    async with payer(api, await rich_account(pg_dsn)) as http:
        assert (await http.post("/v1/deploy/prototype", json=taken)).status_code == 201
    account = await rich_account(pg_dsn)
    before = await footprint(pg_dsn)
    async with payer(api, account) as http:
        answer = await http.post("/v1/deploy/prototype", json=manifest("second", subdomain=taken["subdomain"]))
    assert assert_error(answer, 409, "subdomain_taken")["part"] == "subdomain"
    assert await footprint(pg_dsn) == before  # project, tables, secrets, function, site: all gone
    assert await balance(api, account.address) == 2_000_000
    rows = await db(pg_dsn, "SELECT name FROM sandbox.projects WHERE name = 'second' AND wallet = $1",
                    account.address.lower())
    assert rows == []


@pytest.mark.parametrize(("parts", "status", "code"), [
    ({"functions": [{"name": "bad", "code": "export default async ( =>"}]}, 400, "invalid_function_code"),
    ({"functions": [{"name": "nodefault", "code": "export const x = 1;"}]}, 400, "invalid_function_code"),
    ({"functions": [{"name": f"f{i}", "code": "export default () => new Response('x')"} for i in range(6)]},
     403, "function_limit"),
    ({"migrations": "CREATE EXTENSION pgcrypto;"}, 403, None),
    ({"migrations": "CREATE TABLE (;"}, 400, "sql_syntax_error"),
    ({"migrations": 42}, 400, "invalid_migrations"),
    ({"rls": {"template": "everyone", "tables": [{"table": "posts"}]}}, 400, "unknown_template"),
    ({"secrets": [{"key": "lower", "value": "x"}]}, 400, "invalid_secret_key"),
    ({"site": None}, 400, "subdomain_needs_site"),
    ({"site": [{"file": "../evil.html", "data": "x"}]}, 400, "invalid_path"),
    ({"subdomain": "API"}, 400, "invalid_subdomain"),
    ({"name": ""}, 400, "invalid_name"),
])
async def test_refused_before_paying(
    api: str, pg_dsn: str, parts: dict[str, Any], status: int, code: str | None,
) -> None:
    account = await rich_account(pg_dsn)
    before = await footprint(pg_dsn)
    async with payer(api, account) as http:
        answer = await http.post("/v1/deploy/prototype", json=manifest("refused", **parts))
    assert_error(answer, status, code)
    assert await footprint(pg_dsn) == before
    assert await balance(api, account.address) == 2_000_000


async def test_unknown_tier_and_unpaid(api: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        assert_error(await http.post("/v1/deploy/platinum", json=manifest("x")), 400, "unknown_tier")
        unpaid = await http.post("/v1/deploy/prototype", json=manifest("x"))
    assert_error(unpaid, 402, "payment_required")
    assert "PAYMENT-REQUIRED" in unpaid.headers


async def test_a_minimal_bundle_is_just_a_project(api: str, pg_dsn: str) -> None:
    async with payer(api, await rich_account(pg_dsn)) as http:
        answer = await http.post("/v1/deploy/prototype", json={"name": "bare"})
    assert answer.status_code == 201, answer.text
    got = answer.json()
    assert got["functions"] == [] and got["site_url"] is None and got["subdomain_url"] is None
    assert got["project_id"].startswith("prj_")
