"""End-to-end: a project's secrets (set, list names only, delete; uppercase keys; service key)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from core import assert_error, create, db, rich_account, service

pytestmark = pytest.mark.asyncio(loop_scope="session")


def path(project: dict[str, Any], key: str = "") -> str:
    return f"/admin/v1/projects/{project['project_id']}/secrets" + (f"/{key}" if key else "")


async def test_set_list_delete(api: str, pg_dsn: str) -> None:
    project = await create(api, await rich_account(pg_dsn), "secrets")
    async with httpx.AsyncClient(base_url=api) as http:
        one = await http.post(path(project), headers=service(project), json={"key": "API_KEY", "value": "sk-1"})
        many = await http.post(path(project), headers=service(project), json={"secrets": [
            {"key": "B_TOKEN", "value": "t"}, {"key": "API_KEY", "value": "sk-2"}]})
        listed = await http.get(path(project), headers=service(project))
        deleted = await http.delete(path(project, "B_TOKEN"), headers=service(project))
        after = await http.get(path(project), headers=service(project))
    assert one.json() == {"status": "ok", "keys": ["API_KEY"]} and many.json()["keys"] == ["B_TOKEN", "API_KEY"]
    body = listed.json()
    assert [s["key"] for s in body["secrets"]] == ["API_KEY", "B_TOKEN"]
    assert "sk-" not in listed.text and "value" not in body["secrets"][0]  # names, never values
    assert body["readiness"] == "ready" and body["missing"] == []
    assert deleted.json() == {"status": "deleted", "key": "B_TOKEN"}
    assert [s["key"] for s in after.json()["secrets"]] == ["API_KEY"]


async def test_value_is_replaced(api: str, pg_dsn: str) -> None:
    project = await create(api, await rich_account(pg_dsn), "replace")
    async with httpx.AsyncClient(base_url=api) as http:
        for value in ("old", "new"):
            await http.post(path(project), headers=service(project), json={"key": "K", "value": value})
    rows = await _values(pg_dsn, project["project_id"])
    assert rows == {"K": "new"}


async def _values(pg_dsn: str, project_id: str) -> dict[str, str]:
    return {r["key"]: r["value"] for r in await db(pg_dsn, "SELECT key, value FROM sandbox.secrets WHERE project_id = $1",
                                                   project_id)}


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"key": "lower_case", "value": "x"}, 400, "invalid_secret_key"),
    ({"key": "Mixed", "value": "x"}, 400, "invalid_secret_key"),
    ({"key": "1ABC", "value": "x"}, 400, "invalid_secret_key"),
    ({"key": "WITH-DASH", "value": "x"}, 400, "invalid_secret_key"),
    ({"key": "", "value": "x"}, 400, "invalid_secret_key"),
    ({"key": "NODE_OPTIONS", "value": "--inspect"}, 400, "reserved_secret_key"),
    ({"key": "OK", "value": 5}, 400, "invalid_secret"),
    ({"key": "OK", "value": "x" * (64 * 1024 + 1)}, 400, "secret_too_large"),
    ({"secrets": [{"key": "A", "value": "1"}, {"key": "A", "value": "2"}]}, 400, "duplicate_secret"),
    ({"secrets": []}, 400, "invalid_secrets"),
    ({"secrets": "A=1"}, 400, "invalid_secrets"),
])
async def test_refused_secrets(api: str, pg_dsn: str, body: dict[str, Any], status: int, code: str) -> None:
    project = await create(api, await rich_account(pg_dsn), "refused")
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post(path(project), headers=service(project), json=body)
    error = assert_error(answer, status, code)
    if code == "invalid_secret_key" and body["key"] == "lower_case":
        assert "uppercase" in error["message"] and "LOWER_CASE" in error["hint"]


async def test_service_key_required(api: str, pg_dsn: str) -> None:
    project = await create(api, await rich_account(pg_dsn), "keys")
    other = await create(api, await rich_account(pg_dsn), "other")
    anon_bearer = {"Authorization": f"Bearer {project['anon_key']}"}
    async with httpx.AsyncClient(base_url=api) as http:
        answers = [
            await http.post(path(project), json={"key": "A", "value": "1"}),
            await http.get(path(project), headers=anon_bearer),
            await http.post(path(project), headers=anon_bearer, json={"key": "A", "value": "1"}),
            await http.delete(path(project, "A"), headers=anon_bearer),
            await http.get(path(project), headers=service(other)),
            await http.delete(path(project, "MISSING"), headers=service(project)),
            await http.delete(path(project, "bad"), headers=service(project)),
        ]
    assert_error(answers[0], 401, "missing_service_key")
    for answer in answers[1:4]:
        assert_error(answer, 403, "service_key_required")
    assert_error(answers[4], 403, "wrong_project")
    assert_error(answers[5], 404, "secret_not_found")
    assert_error(answers[6], 400, "invalid_secret_key")


async def test_deleting_the_project_deletes_its_secrets(api: str, pg_dsn: str) -> None:
    project = await create(api, await rich_account(pg_dsn), "gone")
    async with httpx.AsyncClient(base_url=api) as http:
        await http.post(path(project), headers=service(project), json={"key": "K", "value": "v"})
        deleted = await http.delete(f"/v1/projects/{project['project_id']}", headers=service(project))
    assert deleted.status_code == 200, deleted.text
    assert await _values(pg_dsn, project["project_id"]) == {}
