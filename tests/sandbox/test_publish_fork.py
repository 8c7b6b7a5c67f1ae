"""End-to-end: publish a project version, inspect it, list versions, fork it (x402)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import pytest_asyncio
from core import anon, assert_error, dbval, rich_account, service, sql_ok, user
from paying import balance, history, payer

pytestmark = pytest.mark.asyncio(loop_scope="session")

FUNCTION = """
export default async () => new Response(JSON.stringify({ key: process.env.OPENAI_API_KEY ?? null }),
  { headers: { 'Content-Type': 'application/json' } });
"""
MIGRATIONS = """
CREATE TABLE posts (id serial PRIMARY KEY, title text NOT NULL, user_id uuid, created_at timestamptz DEFAULT now());
CREATE TABLE comments (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, post_id int REFERENCES posts(id), body text);
CREATE INDEX posts_title ON posts (title);
CREATE VIEW post_titles AS SELECT id, title FROM posts;
CREATE FUNCTION post_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM posts $$;
"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def source(api: str, pg_dsn: str) -> dict[str, Any]:
    """A bundle-deployed app with data, a user, a secret, a function and a site; published once."""
    body = {
        "name": "template-app", "migrations": MIGRATIONS,
        "rls": {"template": "user_owns_rows", "tables": [{"table": "posts", "owner_column": "user_id"}]},
        "secrets": [{"key": "OPENAI_API_KEY", "value": "sk-secret-value"}],
        "functions": [{"name": "whoami", "code": FUNCTION}],
        "site": [{"file": "index.html", "data": "<h1>template</h1>"}],
    }
    async with payer(api, await rich_account(pg_dsn)) as http:
        created = await http.post("/v1/deploy/prototype", json=body)
    assert created.status_code == 201, created.text
    project = created.json()
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        await sql_ok(http, project, "INSERT INTO posts (title) VALUES ('private data'), ('more data')")
        await user(http, project)
        published = await http.post(f"/admin/v1/projects/{project['project_id']}/publish", headers=service(project),
                                    json={"description": "posts app", "required_secrets": [
                                        {"key": "OPENAI_API_KEY", "description": "for summaries"}]})
    assert published.status_code == 201, published.text
    return {"project": project, "version": published.json()}


async def test_publish_answer(source: dict[str, Any]) -> None:
    version = source["version"]
    assert version["version_id"].startswith("ver_") and version["visibility"] == "public" and version["fork_allowed"]
    assert version["tables"] == ["comments", "posts"]
    assert version["functions"] == [{"name": "whoami", "config": {}}]
    assert version["secret_names"] == ["OPENAI_API_KEY"] and version["site_files"] == 1
    assert version["required_secrets"] == [{"key": "OPENAI_API_KEY", "description": "for summaries"}]


async def test_inspect_holds_schema_never_data_or_secret_values(api: str, source: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.get(f"/v1/apps/{source['version']['version_id']}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "CREATE TABLE" in body["schema_sql"] and "CREATE VIEW" in body["schema_sql"]
    assert "private data" not in answer.text and "sk-secret-value" not in answer.text
    assert "INSERT INTO" not in body["schema_sql"] and "COPY " not in body["schema_sql"]
    assert body["site"] == [{"path": "index.html", "bytes": 17}]


async def test_versions_newest_first(api: str, source: dict[str, Any]) -> None:
    project = source["project"]
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        second = await http.post(f"/admin/v1/projects/{project['project_id']}/publish", headers=service(project), json={})
        listed = await http.get(f"/admin/v1/projects/{project['project_id']}/versions", headers=service(project))
        assert_error(await http.get(f"/admin/v1/projects/{project['project_id']}/versions"), 401)
    ids = [v["version_id"] for v in listed.json()["versions"]]
    assert ids == [second.json()["version_id"], source["version"]["version_id"]]


async def test_fork_is_an_independent_copy_needing_its_secret(api: str, pg_dsn: str, source: dict[str, Any]) -> None:
    account = await rich_account(pg_dsn)
    subdomain = f"fork-{uuid.uuid4().hex[:8]}"
    key = {"Idempotency-Key": str(uuid.uuid4())}
    request = {"version_id": source["version"]["version_id"], "name": "my-copy", "subdomain": subdomain}
    async with payer(api, account) as http:
        answer = await http.post("/v1/fork/prototype", json=request, headers=key)
        replay = await http.post("/v1/fork/prototype", json=request, headers=key)
    assert answer.status_code == 201, answer.text
    fork = answer.json()
    assert replay.json() == fork and replay.headers.get("idempotent-replayed") == "true"
    assert [c["amount_usd_micros"] for c in await history(api, account.address) if c["kind"] == "charge"] == [-100_000]
    assert fork["project_id"] != source["project"]["project_id"]
    assert fork["readiness"] == "configuration_required" and fork["missing_secrets"] == ["OPENAI_API_KEY"]
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        assert (await http.get("/rest/v1/posts", headers=service_apikey(fork))).json() == []  # no data
        inserted = await sql_ok(http, fork, "INSERT INTO posts (title) VALUES ('mine') RETURNING id")
        assert inserted["rows"] == [{"id": 1}]  # its own sequence
        assert (await sql_ok(http, fork, "SELECT post_count() AS n, (SELECT count(*) FROM post_titles) AS v"))["rows"] \
            == [{"n": 1, "v": 1}]
        schema = (await http.get(f"/admin/v1/projects/{fork['project_id']}/schema", headers=service(fork))).json()
        site = await http.get("/", headers={"Host": f"{subdomain}.localhost"})
        before = await http.get("/functions/v1/whoami", headers=anon(fork))
        secrets = await http.get(f"/admin/v1/projects/{fork['project_id']}/secrets", headers=service(fork))
        await http.post(f"/admin/v1/projects/{fork['project_id']}/secrets", headers=service(fork),
                        json={"key": "OPENAI_API_KEY", "value": "sk-mine"})
        after = await http.get("/functions/v1/whoami", headers=anon(fork))
        ready = await http.get(f"/admin/v1/projects/{fork['project_id']}/secrets", headers=service(fork))
        source_rows = await sql_ok(http, source["project"], "SELECT count(*) AS n FROM posts")
    posts = next(t for t in schema["tables"] if t["name"] == "posts")
    assert posts["rls_enabled"] and posts["policies"], posts
    assert all(fork["schema_slot"] in role for p in posts["policies"] for role in p["roles"])
    assert "template" in site.text
    assert before.json() == {"key": None} and after.json() == {"key": "sk-mine"}
    assert secrets.json()["readiness"] == "configuration_required" and secrets.json()["missing"] == ["OPENAI_API_KEY"]
    assert ready.json()["readiness"] == "ready" and ready.json()["missing"] == []
    assert source_rows["rows"] == [{"n": 2}]  # the source is untouched
    assert await dbval(pg_dsn, "SELECT count(*) FROM sandbox.users WHERE project_id = $1", fork["project_id"]) == 0


def service_apikey(project: dict[str, Any]) -> dict[str, str]:
    return {"apikey": project["service_key"]}


async def test_fork_with_its_secrets_is_ready(api: str, pg_dsn: str, source: dict[str, Any]) -> None:
    request = {"version_id": source["version"]["version_id"], "name": "ready-copy",
               "secrets": [{"key": "OPENAI_API_KEY", "value": "sk-given"}]}
    async with payer(api, await rich_account(pg_dsn)) as http:
        answer = await http.post("/v1/fork/prototype", json=request)
    assert answer.status_code == 201, answer.text
    assert answer.json()["readiness"] == "ready" and answer.json()["missing_secrets"] == []


async def test_private_and_closed_versions(api: str, pg_dsn: str, source: dict[str, Any]) -> None:
    project = source["project"]
    publish = f"/admin/v1/projects/{project['project_id']}/publish"
    account = await rich_account(pg_dsn)
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        private = (await http.post(publish, headers=service(project), json={"visibility": "private"})).json()
        closed = (await http.post(publish, headers=service(project), json={"fork_allowed": False})).json()
        hidden = await http.get(f"/v1/apps/{private['version_id']}")
        shown = await http.get(f"/v1/apps/{private['version_id']}", headers=service(project))
    async with payer(api, account) as http:
        refused = await http.post("/v1/fork/prototype", json={"version_id": closed["version_id"], "name": "x"})
        unseen = await http.post("/v1/fork/prototype", json={"version_id": private["version_id"], "name": "x"})
    assert_error(hidden, 404, "version_not_found")
    assert shown.status_code == 200
    assert_error(refused, 403, "fork_not_allowed")
    assert_error(unseen, 404, "version_not_found")
    assert await balance(api, account.address) == 2_000_000


async def test_publish_and_fork_errors(api: str, source: dict[str, Any]) -> None:
    project = source["project"]
    publish = f"/admin/v1/projects/{project['project_id']}/publish"
    version_id = source["version"]["version_id"]
    async with httpx.AsyncClient(base_url=api) as http:
        assert_error(await http.post(publish, headers=service(project), json={"visibility": "secret"}), 400,
                     "invalid_visibility")
        assert_error(await http.post(publish, headers=service(project), json={"fork_allowed": "yes"}), 400,
                     "invalid_fork_allowed")
        assert_error(await http.post(publish, headers=service(project),
                                     json={"required_secrets": [{"key": "lower"}]}), 400, "invalid_secret_key")
        assert_error(await http.post(publish, json={}), 401, "missing_service_key")
        assert_error(await http.post(publish, headers={"Authorization": f"Bearer {project['anon_key']}"}, json={}),
                     403, "service_key_required")
        assert_error(await http.get("/v1/apps/ver_nope"), 404, "version_not_found")
        assert_error(await http.post("/v1/fork/prototype", json={"name": "x"}), 400, "missing_version_id")
        assert_error(await http.post("/v1/fork/gold", json={"version_id": version_id}), 400, "unknown_tier")
        assert_error(await http.post("/v1/fork/prototype", json={"version_id": version_id}), 402, "payment_required")
