"""End-to-end: claiming, looking up, listing and releasing subdomains, and serving them."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from paying import deploy, new_account, new_project

pytestmark = pytest.mark.asyncio(loop_scope="session")

RESERVED = ["api", "www", "admin", "sites", "mail", "ftp", "cdn", "static"]


async def _project_with_sites(api: str, label: str, count: int) -> dict[str, Any]:
    account = await new_account(api)  # $0.25: a project ($0.10) and up to three sites
    project = await new_project(api, account, label)
    deployments = []
    for n in range(count):
        answer = await deploy(api, account, project["project_id"], [{"file": "index.html", "data": f"{label} v{n}"}])
        assert answer.status_code == 201, answer.text
        deployments.append(answer.json()["deployment_id"])
    return {**project, "deployments": deployments}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def projects(api: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Project A with two deployments, project B with one."""
    return await _project_with_sites(api, "alpha", 2), await _project_with_sites(api, "beta", 1)


@pytest.fixture
def a(projects: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return projects[0]


@pytest.fixture
def b(projects: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return projects[1]


def service(project: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {project['service_key']}"}


def fresh_name() -> str:
    return f"app-{uuid.uuid4().hex[:10]}"


def port_of(api: str) -> int:
    port = urlsplit(api).port
    assert port is not None
    return port


async def claim(http: httpx.AsyncClient, project: dict[str, Any], name: str, deployment_id: str) -> httpx.Response:
    return await http.post("/v1/subdomains", headers=service(project), json={"name": name, "deployment_id": deployment_id})


async def test_claim_is_an_idempotent_upsert(api: str, a: dict[str, Any]) -> None:
    name = fresh_name()
    first_dpl, second_dpl = a["deployments"]
    async with httpx.AsyncClient(base_url=api) as http:
        created = await claim(http, a, name, first_dpl)
        same = await claim(http, a, name, first_dpl)
        moved = await claim(http, a, name, second_dpl)
        looked_up = await http.get(f"/v1/subdomains/{name}")  # free, no key
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == name and body["deployment_id"] == first_dpl
    assert body["url"] == f"http://{name}.localhost:{port_of(api)}/"
    assert body["project_id"] == a["project_id"]
    assert same.status_code == 200 and same.json()["deployment_id"] == first_dpl
    assert same.json()["created_at"] == body["created_at"]
    assert moved.status_code == 200 and moved.json()["deployment_id"] == second_dpl
    assert looked_up.status_code == 200
    assert looked_up.json()["deployment_id"] == second_dpl
    assert looked_up.json()["url"] == body["url"]
    assert looked_up.json()["project_id"] == a["project_id"]


async def test_subdomain_host_serves_its_deployment(api: str, a: dict[str, Any]) -> None:
    name = fresh_name()
    host = {"Host": f"{name}.localhost:{port_of(api)}"}
    async with httpx.AsyncClient(base_url=api) as http:
        before = await http.get("/", headers=host)
        await claim(http, a, name, a["deployments"][0])
        v0 = await http.get("/", headers=host)
        spa = await http.get("/a/route", headers=host)
        await claim(http, a, name, a["deployments"][1])
        v1 = await http.get("/", headers=host)
        reserved_host = await http.get(f"/v1/subdomains/{name}", headers={"Host": f"api.localhost:{port_of(api)}"})
    assert before.status_code == 404 and before.json()["error"] == "subdomain_not_found"
    assert v0.status_code == 200 and v0.text == "alpha v0"
    assert v0.headers["content-type"] == "text/html; charset=utf-8"
    assert spa.text == "alpha v0"
    assert v1.text == "alpha v1"  # re-pointing takes effect at once
    assert reserved_host.status_code == 200 and reserved_host.json()["name"] == name  # the API


async def test_list_and_release(api: str, a: dict[str, Any], b: dict[str, Any]) -> None:
    names = sorted(fresh_name() for _ in range(2))
    async with httpx.AsyncClient(base_url=api) as http:
        for name in names:
            assert (await claim(http, a, name, a["deployments"][0])).status_code == 201
        listed = await http.get("/v1/subdomains", headers=service(a))
        listed_b = await http.get("/v1/subdomains", headers=service(b))
        foreign_delete = await http.delete(f"/v1/subdomains/{names[0]}", headers=service(b))
        deleted = await http.delete(f"/v1/subdomains/{names[0]}", headers=service(a))
        after = await http.get(f"/v1/subdomains/{names[0]}")
        site_after = await http.get("/", headers={"Host": f"{names[0]}.localhost:{port_of(api)}"})
        again = await http.delete(f"/v1/subdomains/{names[0]}", headers=service(a))
        reclaimed_by_b = await claim(http, b, names[0], b["deployments"][0])
    mine = {s["name"] for s in listed.json()["subdomains"]}
    assert listed.status_code == 200 and set(names) <= mine
    assert all(s["project_id"] == a["project_id"] for s in listed.json()["subdomains"])
    assert not set(names) & {s["name"] for s in listed_b.json()["subdomains"]}
    assert foreign_delete.status_code == 403 and foreign_delete.json()["error"] == "not_your_subdomain"
    assert deleted.status_code == 200 and deleted.json() == {"status": "deleted", "name": names[0]}
    assert after.status_code == 404 and after.json()["error"] == "subdomain_not_found"
    assert site_after.status_code == 404
    assert again.status_code == 404
    assert reclaimed_by_b.status_code == 201  # released names are free again


async def test_a_name_of_another_project_is_409(api: str, a: dict[str, Any], b: dict[str, Any]) -> None:
    name = fresh_name()
    async with httpx.AsyncClient(base_url=api) as http:
        assert (await claim(http, a, name, a["deployments"][0])).status_code == 201
        taken = await claim(http, b, name, b["deployments"][0])
        still = await http.get(f"/v1/subdomains/{name}")
    assert taken.status_code == 409 and taken.json()["error"] == "subdomain_taken"
    assert still.json()["deployment_id"] == a["deployments"][0]


async def test_deployment_must_belong_to_the_keys_project(api: str, a: dict[str, Any], b: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        foreign = await claim(http, a, fresh_name(), b["deployments"][0])
        unknown = await claim(http, a, fresh_name(), "dpl_0000000000000000")
        missing = await http.post("/v1/subdomains", headers=service(a), json={"name": fresh_name()})
    assert foreign.status_code == 403 and foreign.json()["error"] == "deployment_not_in_project"
    assert unknown.status_code == 404 and unknown.json()["error"] == "deployment_not_found"
    assert missing.status_code == 400 and missing.json()["error"] == "missing_deployment_id"


async def test_service_key_in_authorization_is_required(api: str, a: dict[str, Any]) -> None:
    body = {"name": fresh_name(), "deployment_id": a["deployments"][0]}
    async with httpx.AsyncClient(base_url=api) as http:
        as_apikey = await http.post("/v1/subdomains", headers={"apikey": a["service_key"]}, json=body)
        nothing = await http.post("/v1/subdomains", json=body)
        anon = await http.post("/v1/subdomains", headers={"Authorization": f"Bearer {a['anon_key']}"}, json=body)
        garbage = await http.post("/v1/subdomains", headers={"Authorization": "Bearer nope"}, json=body)
        list_anon = await http.get("/v1/subdomains", headers={"Authorization": f"Bearer {a['anon_key']}"})
        list_none = await http.get("/v1/subdomains")
        delete_none = await http.delete(f"/v1/subdomains/{body['name']}")
    assert as_apikey.status_code == 401 and as_apikey.json()["error"] == "missing_service_key"
    assert "apikey" in as_apikey.json()["message"]
    assert nothing.status_code == 401
    assert anon.status_code == 403 and anon.json()["error"] == "service_key_required"
    assert garbage.status_code == 401 and garbage.json()["error"] == "invalid_key"
    assert list_anon.status_code == 403
    assert list_none.status_code == 401
    assert delete_none.status_code == 401


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("ab", "length"), ("a" * 64, "length"), ("", "required"), (None, "required"),
        ("MyApp", "characters"), ("my_app", "characters"), ("my.app", "characters"), ("my app", "characters"),
        ("café", "characters"), ("-app", "edges"), ("app-", "edges"), ("my--app", "double_hyphen"),
        *[(reserved, "reserved") for reserved in RESERVED],
    ],
)
async def test_naming_rules(api: str, a: dict[str, Any], name: Any, rule: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post("/v1/subdomains", headers=service(a),
                                 json={"name": name, "deployment_id": a["deployments"][0]})
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"] == "invalid_subdomain"
    assert body["rule"] == rule
    assert body["message"] and body["hint"]
    if rule == "reserved":
        assert "reserved" in body["message"]
    if rule == "length":
        assert "3 to 63" in body["message"]


@pytest.mark.parametrize("name", ["abc", "a" * 63, "a1-b2", "123", "x-y-z"])
async def test_valid_names_at_the_edges(api: str, a: dict[str, Any], name: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await claim(http, a, name, a["deployments"][0])
        released = await http.delete(f"/v1/subdomains/{name}", headers=service(a))
    assert answer.status_code == 201, answer.text
    assert answer.json()["name"] == name
    assert released.status_code == 200


async def test_lookup_of_unclaimed_name_is_404(api: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.get(f"/v1/subdomains/{fresh_name()}")
    assert answer.status_code == 404 and answer.json()["error"] == "subdomain_not_found"
