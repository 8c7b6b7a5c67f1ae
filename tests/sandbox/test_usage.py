"""End-to-end: GET /admin/v1/projects/:id/usage — calls and storage against the tier, lifecycle state."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest
from core import anon, assert_error, create, db, rich_account, service
from paying import payer

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _lease(pg_dsn: str, project_id: str, offset: str) -> None:
    await db(pg_dsn, f"UPDATE sandbox.projects SET lease_expires_at = now() + interval '{offset}' WHERE id = $1",
             project_id)
    await asyncio.sleep(1.1)  # past the project cache


async def test_usage_counts_calls_and_storage_against_the_tier(api: str, pg_dsn: str) -> None:
    project = await create(api, await rich_account(pg_dsn), "usage")
    pid = project["project_id"]
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        for _ in range(3):
            await http.get("/rest/v1/nothing", headers=anon(project))
        await http.post("/storage/v1/object/files/a.txt", content=b"12345", headers=anon(project))
        usage = (await http.get(f"/admin/v1/projects/{pid}/usage", headers=service(project))).json()
    assert usage["project_id"] == pid and usage["tier"] == "prototype" and usage["state"] == "active"
    assert usage["api_calls"] == 4 and usage["api_calls_limit"] == 500_000  # counted before they are flushed
    assert usage["storage_bytes"] == 5 and usage["storage_limit_bytes"] == 250 * 1024 * 1024
    expires = dt.datetime.fromisoformat(usage["lease_expires_at"])
    assert dt.datetime.fromisoformat(usage["archived_at"]) - expires == dt.timedelta(days=7)


async def test_usage_follows_the_lifecycle_and_renew_restores(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn)
    project = await create(api, account, "usage-life")
    pid = project["project_id"]
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        async def state() -> str:
            answer = await http.get(f"/admin/v1/projects/{pid}/usage", headers=service(project))
            assert answer.status_code == 200, answer.text
            return str(answer.json()["state"])

        await _lease(pg_dsn, pid, "-1 hour")
        assert await state() == "read_only"
        await _lease(pg_dsn, pid, "-8 days")
        assert await state() == "archived"
        async with payer(api, account) as paying:
            renewed = await paying.post(f"/v1/projects/{pid}/renew", headers={"Idempotency-Key": f"renew-{pid}"})
        assert renewed.status_code == 200, renewed.text
        assert await state() == "active"
        assert (await http.post("/storage/v1/object/files/b.txt", content=b"x", headers=anon(project))).status_code == 201


async def test_usage_needs_this_projects_service_key(api: str, pg_dsn: str) -> None:
    project = await create(api, await rich_account(pg_dsn), "usage-keys")
    other = await create(api, await rich_account(pg_dsn), "usage-other")
    pid = project["project_id"]
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        assert_error(await http.get(f"/admin/v1/projects/{pid}/usage"), 401, "missing_service_key")
        assert_error(await http.get(f"/admin/v1/projects/{pid}/usage",
                                    headers={"Authorization": f"Bearer {project['anon_key']}"}), 403, "service_key_required")
        assert_error(await http.get(f"/admin/v1/projects/{pid}/usage", headers=service(other)), 403, "service_key_required")
        assert (await http.delete(f"/v1/projects/{pid}", headers=service(project))).status_code == 200
        await asyncio.sleep(1.1)
        assert_error(await http.get(f"/admin/v1/projects/{pid}/usage", headers=service(project)), 404, "project_not_found")
