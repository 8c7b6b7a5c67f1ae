"""API-call quotas: a project over its tier's calls gets the seed's 402 quota error."""

from __future__ import annotations

import asyncio

import httpx

from paying import fetchval, new_account, new_project, payer


async def test_calls_are_counted_and_a_project_over_quota_gets_402_quota(api: str, pg_dsn: str) -> None:
    account = await new_account(api)
    project = await new_project(api, account)
    anon = {"apikey": project["anon_key"]}
    async with httpx.AsyncClient(base_url=api) as http:
        for _ in range(3):
            assert (await http.get("/rest/v1/nothing", headers=anon)).status_code == 404
        await asyncio.sleep(1.3)  # the counts reach Postgres within a second
        counted = await fetchval(pg_dsn, "SELECT api_calls FROM sandbox.projects WHERE id = $1", project["project_id"])
        assert counted == 3

        await fetchval(pg_dsn, "UPDATE sandbox.projects SET api_calls = 500000 WHERE id = $1", project["project_id"])
        await asyncio.sleep(1.1)  # past the project cache
        answer = await http.get("/rest/v1/nothing", headers=anon)
        assert answer.status_code == 402
        assert answer.json()["error"] == "quota_exceeded"
        assert "renew" in answer.json()["hint"]
        assert "PAYMENT-REQUIRED" not in answer.headers  # a quota 402 is not a payment request

    async with payer(api, account) as paying:
        renewed = await paying.post(f"/v1/projects/{project['project_id']}/renew", headers={"Idempotency-Key": "renew-quota"})
        assert renewed.status_code == 200, renewed.text
    await asyncio.sleep(1.1)
    async with httpx.AsyncClient(base_url=api) as http:
        assert (await http.get("/rest/v1/nothing", headers=anon)).status_code == 404
