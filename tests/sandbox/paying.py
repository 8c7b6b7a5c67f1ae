"""Test helpers for paid sandbox routes: fresh funded wallets and x402-paying clients.

Payments go through `appwright.platforms.x402pay` (the official `x402` client with
our spend controls), exactly as the engine pays; wallets are funded by the sandbox's
own faucet (0.25 USD each, once per address per 24 h, so every helper call makes a
new key).
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

from appwright.platforms.x402pay import paying_client

FAUCET_MICROS = 250_000


async def new_account(api: str, *, fund: bool = True) -> LocalAccount:
    """A new key; funded with one faucet grant unless `fund` is false."""
    account: LocalAccount = Account.create()
    if fund:
        async with httpx.AsyncClient(base_url=api) as http:
            answer = await http.post("/v1/faucet", json={"address": account.address})
        assert answer.status_code == 200, answer.text
    return account


def payer(api: str, account: LocalAccount, *, cap_micros: int = 200_000) -> httpx.AsyncClient:
    """An httpx client on `api` that pays 402s with `account`."""
    return paying_client(account, max_per_call_micros=cap_micros, base_url=api, timeout=60)


async def balance(api: str, wallet: str) -> int:
    """The wallet's available micro-USD."""
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.get(f"/v1/billing/accounts/{wallet}")
    assert answer.status_code == 200, answer.text
    return int(answer.json()["available_usd_micros"])


async def history(api: str, wallet: str, limit: int = 20) -> list[dict[str, Any]]:
    """The wallet's ledger entries, newest first."""
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.get(f"/v1/billing/accounts/{wallet}/history", params={"limit": limit})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["entries"])


async def new_project(api: str, account: LocalAccount, name: str = "test") -> dict[str, Any]:
    """A prototype project paid by `account` ($0.10): project_id, anon_key, service_key…"""
    async with payer(api, account) as http:
        answer = await http.post("/v1/projects", json={"name": name})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def deploy(
    api: str, account: LocalAccount, project_id: str, files: list[dict[str, Any]],
    *, name: str = "site", headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST /v1/deployments paid by `account` ($0.05)."""
    async with payer(api, account) as http:
        return await http.post(
            "/v1/deployments", json={"name": name, "project": project_id, "files": files},
            headers=headers or {},
        )


async def jwt_secret(pg_dsn: str) -> str:
    """The secret the sandbox signs keys with (to forge expired or foreign tokens)."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        return str(await conn.fetchval("SELECT value FROM sandbox.meta WHERE key = 'jwt_secret'"))
    finally:
        await conn.close()


async def fetchval(pg_dsn: str, sql: str, *args: Any) -> Any:
    """One value straight from the sandbox's database."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()
