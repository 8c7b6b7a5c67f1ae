"""End-to-end: deploying static sites (x402, $0.05) and serving them by path and by Host."""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from paying import balance, deploy, fetchval, history, new_account, new_project

pytestmark = pytest.mark.asyncio(loop_scope="session")

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
INDEX = "<!DOCTYPE html><html><body><h1>héllo</h1></body></html>"
FILES: list[dict[str, Any]] = [
    {"file": "index.html", "data": INDEX},
    {"file": "app.js", "data": "console.log('app')"},
    {"file": "style.css", "data": "body { color: red }"},
    {"file": "logo.svg", "data": "<svg xmlns='http://www.w3.org/2000/svg'/>"},
    {"file": "data.json", "data": '{"a": 1}'},
    {"file": "module.wasm", "data": base64.b64encode(b"\x00asm\x01\x00\x00\x00").decode(), "encoding": "base64"},
    {"file": "site.webmanifest", "data": '{"name": "x"}'},
    {"file": "img/pixel.png", "data": base64.b64encode(PNG).decode(), "encoding": "base64"},
    {"file": "./docs/index.html", "data": "<p>docs</p>"},
    {"file": "robots.txt", "data": "User-agent: *", "encoding": "utf-8"},
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def site(api: str) -> dict[str, Any]:
    """A project and one deployment of FILES; the deployment's payer and answer."""
    owner = await new_account(api)
    project = await new_project(api, owner, "sites")
    payer_account = await new_account(api)
    answer = await deploy(api, payer_account, project["project_id"], FILES, name="demo")
    assert answer.status_code == 201, answer.text
    return {"project": project, "payer": payer_account, "deployment": answer.json()}


def port_of(api: str) -> int:
    port = urlsplit(api).port
    assert port is not None
    return port


async def test_deployment_answer(api: str, site: dict[str, Any]) -> None:
    body = site["deployment"]
    dpl = body["deployment_id"]
    assert re.fullmatch(r"dpl_[0-9a-f]{16}", dpl)
    assert body["url"] == f"http://{dpl.replace('_', '-')}.sites.localhost:{port_of(api)}/"  # a valid host name
    assert body["path_url"] == f"{api}/sites/{dpl}/"
    assert body["project_id"] == site["project"]["project_id"]
    assert body["files"] == len(FILES)
    assert body["name"] == "demo"


async def test_deployment_is_charged_five_cents(api: str, site: dict[str, Any]) -> None:
    wallet = site["payer"].address
    assert await balance(api, wallet) == 250_000 - 50_000
    charge, faucet = await history(api, wallet)
    assert charge["kind"] == "charge" and charge["amount_usd_micros"] == -50_000
    assert charge["project_id"] == site["project"]["project_id"]
    assert "deployment" in charge["description"]
    assert faucet["kind"] == "faucet"


@pytest.mark.parametrize(
    ("path", "content_type", "content"),
    [
        ("", "text/html; charset=utf-8", INDEX.encode()),
        ("index.html", "text/html; charset=utf-8", INDEX.encode()),
        ("app.js", "application/javascript; charset=utf-8", b"console.log('app')"),
        ("style.css", "text/css; charset=utf-8", b"body { color: red }"),
        ("logo.svg", "image/svg+xml; charset=utf-8", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
        ("data.json", "application/json; charset=utf-8", b'{"a": 1}'),
        ("module.wasm", "application/wasm", b"\x00asm\x01\x00\x00\x00"),
        ("site.webmanifest", "application/manifest+json; charset=utf-8", b'{"name": "x"}'),
        ("img/pixel.png", "image/png", PNG),
        ("robots.txt", "text/plain; charset=utf-8", b"User-agent: *"),
        ("docs/index.html", "text/html; charset=utf-8", b"<p>docs</p>"),
    ],
)
async def test_files_are_served_by_path(
    api: str, site: dict[str, Any], path: str, content_type: str, content: bytes,
) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.get(f"/sites/{site['deployment']['deployment_id']}/{path}")
    assert answer.status_code == 200
    assert answer.content == content
    assert answer.headers["content-type"] == content_type
    assert answer.headers["cache-control"] == "no-cache"


async def test_spa_fallback_and_missing_files(api: str, site: dict[str, Any]) -> None:
    base = f"/sites/{site['deployment']['deployment_id']}"
    async with httpx.AsyncClient(base_url=api) as http:
        route = await http.get(f"{base}/dashboard/settings")
        docs = await http.get(f"{base}/docs")
        docs_slash = await http.get(f"{base}/docs/")
        missing_js = await http.get(f"{base}/missing.js")
        missing_nested = await http.get(f"{base}/img/none.png")
        bare = await http.get(base)
        head = await http.head(f"{base}/app.js")
        after_head = await http.get(f"{base}/style.css")  # same keep-alive connection: no stray body
    assert after_head.text == "body { color: red }"
    assert route.status_code == 200 and route.text == INDEX
    assert route.headers["content-type"] == "text/html; charset=utf-8"
    assert docs.text == docs_slash.text == "<p>docs</p>"
    for missing in (missing_js, missing_nested):
        assert missing.status_code == 404 and missing.json()["error"] == "file_not_found"
    assert bare.status_code == 308 and bare.headers["location"] == f"{base}/"
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == "application/javascript; charset=utf-8"


async def test_unknown_deployment_is_404(api: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.get("/sites/dpl_0000000000000000/")
    assert answer.status_code == 404 and answer.json()["error"] == "deployment_not_found"


async def test_host_routing_by_deployment_id(api: str, site: dict[str, Any]) -> None:
    dpl = site["deployment"]["deployment_id"]
    host = f"{dpl}.sites.localhost:{port_of(api)}"
    async with httpx.AsyncClient(base_url=api) as http:
        root = await http.get("/", headers={"Host": host})
        js = await http.get("/app.js", headers={"Host": host})
        spa = await http.get("/some/route", headers={"Host": host})
        dashed = await http.get("/", headers={"Host": host.replace("dpl_", "dpl-")})
        no_port = await http.get("/style.css", headers={"Host": f"{dpl}.sites.localhost"})
        upper = await http.get("/", headers={"Host": host.upper().replace("DPL_", "dpl_")})
        api_path = await http.get("/v1/messages", headers={"Host": host})  # a site path, not the API
        post = await http.post("/", headers={"Host": host}, content=b"x")
        unknown = await http.get("/", headers={"Host": f"dpl_ffffffffffffffff.sites.localhost:{port_of(api)}"})
    assert root.status_code == 200 and root.text == INDEX
    assert root.headers["cache-control"] == "no-cache"
    assert js.text == "console.log('app')" and js.headers["content-type"].startswith("application/javascript")
    assert spa.text == INDEX
    assert dashed.text == INDEX
    assert no_port.text == "body { color: red }"
    assert upper.text == INDEX
    assert api_path.text == INDEX  # extension-less: the SPA's index.html
    assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"
    assert unknown.status_code == 404 and unknown.json()["error"] == "deployment_not_found"


async def test_other_hosts_reach_the_api(api: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        for host in (f"127.0.0.1:{port_of(api)}", f"localhost:{port_of(api)}", f"api.localhost:{port_of(api)}",
                     f"a.b.localhost:{port_of(api)}", "example.com"):
            answer = await http.get("/v1/messages", params={"limit": 1}, headers={"Host": host})
            assert answer.status_code == 200, (host, answer.text)
            assert "messages" in answer.json()


BAD_PATHS = ["../secret.html", "a/../../etc/passwd", "/etc/passwd", "a\\b.html", "a\x00b.html", "",
             "a//b.html", "a/./b.html", ".."]


@pytest.mark.parametrize("path", BAD_PATHS)
async def test_bad_paths_are_refused_before_payment(api: str, site: dict[str, Any], path: str) -> None:
    files = [{"file": "index.html", "data": "x"}, {"file": path, "data": "y"}]
    async with httpx.AsyncClient(base_url=api) as http:  # no payment: a 400, never a 402
        answer = await http.post("/v1/deployments", json={
            "name": "bad", "project": site["project"]["project_id"], "files": files,
        })
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_path"
    assert "files[1]" in answer.json()["message"]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"files": [{"file": "index.html", "data": "!!not base64!!", "encoding": "base64"}]}, 400, "invalid_base64"),
        ({"files": [{"file": "index.html", "data": "aGk", "encoding": "base64"}]}, 400, "invalid_base64"),
        ({"files": [{"file": "index.html", "data": "x", "encoding": "latin-1"}]}, 400, "invalid_encoding"),
        ({"files": [{"file": "main.html", "data": "x"}]}, 400, "missing_index_html"),
        ({"files": [{"file": "docs/index.html", "data": "x"}]}, 400, "missing_index_html"),
        ({"files": []}, 400, "missing_files"),
        ({"files": "index.html"}, 400, "missing_files"),
        ({"files": ["index.html"]}, 400, "invalid_file"),
        ({"files": [{"file": "index.html", "data": 5}]}, 400, "invalid_file"),
        ({"files": [{"file": "index.html", "data": "a"}, {"file": "index.html", "data": "b"}]}, 400, "duplicate_file"),
        ({"project": None}, 400, "missing_project"),
        ({"project": "prj_doesnotexist"}, 404, "project_not_found"),
        ({"name": ""}, 400, "invalid_name"),
    ],
)
async def test_bad_deployments_are_refused_before_payment(
    api: str, site: dict[str, Any], change: dict[str, Any], status: int, code: str,
) -> None:
    body = {"name": "bad", "project": site["project"]["project_id"], "files": [{"file": "index.html", "data": "x"}]}
    body.update(change)
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post("/v1/deployments", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == code
    assert answer.json()["message"]


async def test_site_over_50_mb_is_refused(api: str, site: dict[str, Any]) -> None:
    big = "a" * (50 * 1024 * 1024)  # plus index.html: one byte over
    files = [{"file": "index.html", "data": "x"}, {"file": "big.txt", "data": big}]
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        answer = await http.post("/v1/deployments", json={"project": site["project"]["project_id"], "files": files})
    assert answer.status_code == 413
    assert answer.json()["error"] == "site_too_large"


async def test_deployment_without_payment_is_402(api: str, site: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post("/v1/deployments", json={
            "project": site["project"]["project_id"], "files": [{"file": "index.html", "data": "x"}],
        })
    assert answer.status_code == 402
    assert answer.headers["PAYMENT-REQUIRED"]
    assert answer.json()["accepts"][0]["amount"] == "50000"


async def test_idempotent_retry_makes_one_deployment_and_one_charge(
    api: str, pg_dsn: str, site: dict[str, Any],
) -> None:
    account = await new_account(api)
    name = f"idem-{uuid.uuid4().hex[:8]}"
    key = {"Idempotency-Key": str(uuid.uuid4())}
    files = [{"file": "index.html", "data": name}]
    project_id = site["project"]["project_id"]
    first = await deploy(api, account, project_id, files, name=name, headers=key)
    second = await deploy(api, account, project_id, files, name=name, headers=key)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json() == second.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert await balance(api, account.address) == 250_000 - 50_000
    charges = [e for e in await history(api, account.address) if e["kind"] == "charge"]
    assert [c["amount_usd_micros"] for c in charges] == [-50_000]
    assert await fetchval(pg_dsn, "SELECT count(*) FROM sandbox.deployments WHERE name = $1", name) == 1
    # a new key is a new deployment, and a new charge
    third = await deploy(api, account, project_id, files, name=name, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert third.status_code == 201
    assert third.json()["deployment_id"] != first.json()["deployment_id"]
    assert await balance(api, account.address) == 250_000 - 100_000


async def test_deleted_project_takes_its_sites_down(api: str) -> None:
    account = await new_account(api)
    project = await new_project(api, account, "doomed")
    deployed = await deploy(api, account, project["project_id"], [{"file": "index.html", "data": "bye"}])
    assert deployed.status_code == 201, deployed.text
    path = urlsplit(deployed.json()["path_url"]).path
    async with httpx.AsyncClient(base_url=api) as http:
        assert (await http.get(path)).text == "bye"
        gone = await http.delete(f"/v1/projects/{project['project_id']}",
                                 headers={"Authorization": f"Bearer {project['service_key']}"})
        assert gone.status_code == 200, gone.text
        after = await http.get(path)
        redeploy = await http.post("/v1/deployments", json={
            "project": project["project_id"], "files": [{"file": "index.html", "data": "x"}],
        })
    assert after.status_code == 404 and after.json()["error"] == "project_not_found"
    assert redeploy.status_code == 404 and redeploy.json()["error"] == "project_not_found"
