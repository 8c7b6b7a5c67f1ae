"""End-to-end: serverless functions on the real sandbox, run by the machine's Node.js."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import pytest_asyncio
from core import anon, assert_error, create, rich_account, service
from paying import new_account

pytestmark = pytest.mark.asyncio(loop_scope="session")

ECHO = """
export default async (req) => {
  const url = new URL(req.url);
  return new Response(JSON.stringify({
    method: req.method, path: url.pathname, query: url.search, body: await req.text(),
    header: req.headers.get('x-test'), env: process.env,
  }), { status: 201, headers: { 'Content-Type': 'application/json', 'X-Fn': 'echo' } });
};
"""
THROWS = "export default async () => { throw new Error('boom from the function'); };"
SLEEPS = "export default async () => { await new Promise((r) => setTimeout(r, 60000)); return new Response('late'); };"
SPINS = "export default async () => { while (true) {} };"
HOGS = "export default async () => { const a = []; while (true) a.push(new Array(1e6).fill(1)); };"
READS = "import fs from 'node:fs'; export default async () => new Response(fs.readFileSync('/etc/hostname'));"
HELLO = "export default async () => new Response('hello');"


async def deploy(http: httpx.AsyncClient, project: dict[str, Any], name: str, code: str,
                 config: dict[str, Any] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"name": name, "code": code}
    if config is not None:
        body["config"] = config
    return await http.post(f"/admin/v1/projects/{project['project_id']}/functions", headers=service(project), json=body)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def project(api: str, pg_dsn: str) -> dict[str, Any]:
    """A prototype project (5 functions at most) with echo, throws, sleeps, spins and hogs deployed, and one secret."""
    account = await rich_account(pg_dsn, 10_000_000)
    created = await create(api, account, "functions")
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        secret = await http.post(f"/admin/v1/projects/{created['project_id']}/secrets", headers=service(created),
                                 json={"key": "GREETING", "value": "hi there"})
        assert secret.status_code == 200, secret.text
        for name, code, config in (("echo", ECHO, None), ("throws", THROWS, None), ("sleeps", SLEEPS, {"timeout_s": 4}),
                                   ("spins", SPINS, {"timeout_s": 1}), ("hogs", HOGS, {"memory_mb": 32})):
            answer = await deploy(http, created, name, code, config)
            assert answer.status_code == 201, answer.text
    return created


async def test_deploy_answer_and_redeploy(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        again = await deploy(http, project, "echo", ECHO)
        listed = await http.get(f"/admin/v1/projects/{project['project_id']}/functions", headers=service(project))
    assert again.status_code == 200, again.text
    assert again.json()["url"] == f"{api}/functions/v1/echo"
    assert listed.json()["limit"] == 5
    assert [f["name"] for f in listed.json()["functions"]] == ["echo", "hogs", "sleeps", "spins", "throws"]
    assert "code" not in listed.json()["functions"][0]


async def test_request_and_response_pass_through(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answer = await http.post("/functions/v1/echo/sub/path?a=1&b=2", content=b"payload",
                                 headers={**anon(project), "X-Test": "yes"})
    assert answer.status_code == 201, answer.text
    assert answer.headers["x-fn"] == "echo"
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["method"] == "POST" and body["path"] == "/functions/v1/echo/sub/path"
    assert body["query"] == "?a=1&b=2" and body["body"] == "payload" and body["header"] == "yes"


async def test_secrets_are_the_whole_environment(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answer = await http.get("/functions/v1/echo", headers=anon(project))
    assert answer.status_code == 201, answer.text
    assert answer.json()["env"] == {"GREETING": "hi there"}  # no PATH, no database DSN, nothing else


async def test_a_throwing_function_is_a_500_with_its_error(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answer = await http.get("/functions/v1/throws", headers=anon(project))
    body = assert_error(answer, 500, "function_error")
    assert "boom from the function" in body["message"] and "functions/throws" in body["message"]
    assert "appwright-fn-" not in answer.text and body["function"] == "throws"


async def test_a_hanging_function_times_out_while_others_answer(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        sleeping = asyncio.create_task(http.get("/functions/v1/sleeps", headers=anon(project)))
        spinning = asyncio.create_task(http.get("/functions/v1/spins", headers=anon(project)))
        await asyncio.sleep(0.2)
        others = await asyncio.gather(*(http.get("/functions/v1/echo", headers=anon(project)) for _ in range(3)))
        health = await http.post("/v1/projects/quote")
        answered_meanwhile = not sleeping.done()
        slept, spun = await sleeping, await spinning
    assert all(o.status_code == 201 for o in others) and health.status_code == 200
    assert answered_meanwhile  # the others were answered while the sleeping one still ran
    assert "4 s" in assert_error(slept, 504, "function_timeout")["message"]
    assert_error(spun, 504, "function_timeout")


async def test_a_function_out_of_heap_crashes_alone(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answer = await http.get("/functions/v1/hogs", headers=anon(project))
        after = await http.get("/functions/v1/echo", headers=anon(project))
    assert "32 MB heap" in assert_error(answer, 502, "function_crashed")["message"]
    assert after.status_code == 201


async def test_a_function_cannot_read_the_machines_files(api: str, pg_dsn: str) -> None:
    project = await create(api, await rich_account(pg_dsn), "reads")
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        assert (await deploy(http, project, "reads", READS)).status_code == 201
        answer = await http.get("/functions/v1/reads", headers=anon(project))
    assert "restricted" in assert_error(answer, 500, "function_error")["message"]


async def test_calling_errors(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        assert_error(await http.get("/functions/v1/nope", headers=anon(project)), 404, "function_not_found")
        assert (await http.get("/functions/v1/echo")).status_code == 401
        wrong = await http.get("/functions/v1/echo", headers={"apikey": "not-a-key"})
    assert wrong.status_code == 401


async def test_deploy_errors(api: str, project: dict[str, Any]) -> None:
    path = f"/admin/v1/projects/{project['project_id']}/functions"
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        assert_error(await deploy(http, project, "Bad Name", HELLO), 400, "invalid_function_name")
        assert_error(await deploy(http, project, "empty", "  "), 400, "invalid_function")
        assert_error(await deploy(http, project, "cfg", HELLO, {"timeout_s": 99}), 400, "invalid_function_config")
        syntax = assert_error(await deploy(http, project, "broken", "export default async ( =>"), 400,
                              "invalid_function_code")
        noexport = assert_error(await deploy(http, project, "plain", "export const x = 1;"), 400,
                                "invalid_function_code")
        assert (await http.post(path, json={"name": "x", "code": HELLO})).status_code == 401
        assert_error(await http.post(path, headers={"Authorization": f"Bearer {project['anon_key']}"},
                                     json={"name": "x", "code": HELLO}), 403, "service_key_required")
        assert_error(await http.delete(f"{path}/nope", headers=service(project)), 404, "function_not_found")
    assert "SyntaxError" in syntax["message"] and "default export" in noexport["message"]


async def test_tier_function_limit(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn)
    created = await create(api, account, "limits")
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        for i in range(5):
            assert (await deploy(http, created, f"f{i}", HELLO)).status_code == 201
        over = await deploy(http, created, "f5", HELLO)
        replaced = await deploy(http, created, "f0", HELLO)
        deleted = await http.delete(f"/admin/v1/projects/{created['project_id']}/functions/f1", headers=service(created))
        now_fits = await deploy(http, created, "f5", HELLO)
    assert assert_error(over, 403, "function_limit")["limit"] == 5
    assert replaced.status_code == 200 and deleted.json() == {"status": "deleted", "name": "f1"}
    assert now_fits.status_code == 201


async def test_functions_of_another_project_are_out_of_reach(api: str, project: dict[str, Any]) -> None:
    other = await create(api, await new_account(api), "other")
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answer = await http.get("/functions/v1/echo", headers=anon(other))
    assert_error(answer, 404, "function_not_found")


BUFFERS = """
export default async () => {
  const held = [];
  for (let i = 0; i < 16; i++) held.push(Buffer.alloc(128 * 1024 * 1024, 1));
  return new Response('held ' + held.length * 128 + ' MB off the heap');
};
"""


async def test_memory_off_the_heap_is_capped_too(api: str, pg_dsn: str) -> None:
    """`memory_mb` caps Buffers as well as the JS heap: 2 GB of Buffers never succeeds on a 32 MB function."""
    created = await create(api, await rich_account(pg_dsn), "buffers")
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        assert (await deploy(http, created, "buffers", BUFFERS, {"memory_mb": 32})).status_code == 201
        answer = await http.get("/functions/v1/buffers", headers=anon(created))
    assert answer.status_code in (500, 502), answer.text
