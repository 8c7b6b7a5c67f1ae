"""Helpers for the sandbox core's end-to-end tests (projects, admin SQL, RLS, REST…).

Builds on `paying` (funded wallets, paying clients): adds direct crediting of a
wallet (the faucet gives only 0.25 USD per address), admin SQL and RLS calls,
signed-up users, and looking at the sandbox's database and at processes.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from paying import payer

PASSWORD = "correct horse battery"


async def credit(pg_dsn: str, wallet: str, micros: int) -> None:
    """Put `micros` on the wallet's balance straight into sandbox.accounts."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(
            "INSERT INTO sandbox.accounts (wallet, balance_micros) VALUES ($1, $2) "
            "ON CONFLICT (wallet) DO UPDATE SET balance_micros = sandbox.accounts.balance_micros + $2",
            wallet.lower(), micros,
        )
    finally:
        await conn.close()


async def rich_account(pg_dsn: str, micros: int = 2_000_000) -> LocalAccount:
    """A new key with `micros` on its balance (no faucet involved)."""
    account: LocalAccount = Account.create()
    await credit(pg_dsn, account.address, micros)
    return account


def rich_payer(api: str, account: LocalAccount) -> httpx.AsyncClient:
    """A paying client allowed to pay the team tier ($20)."""
    return payer(api, account, cap_micros=20_000_000)


async def create(api: str, account: LocalAccount, name: str = "core") -> dict[str, Any]:
    """A prototype project paid by `account`."""
    async with payer(api, account) as http:
        answer = await http.post("/v1/projects", json={"name": name})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def db(pg_dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Rows straight from the sandbox's database, as its superuser."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def dbexec(pg_dsn: str, sql: str) -> None:
    """Run SQL text (several statements allowed) as the sandbox's superuser."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def dbval(pg_dsn: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(pg_dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


def service(project: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {project['service_key']}"}


def anon(project: dict[str, Any]) -> dict[str, str]:
    return {"apikey": project["anon_key"]}


async def sql(
    http: httpx.AsyncClient, project: dict[str, Any], text: str, *, headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST the SQL text to the project's admin SQL route with its service key."""
    return await http.post(
        f"/admin/v1/projects/{project['project_id']}/sql", content=text.encode(),
        headers={**service(project), "Content-Type": "text/plain", **(headers or {})},
    )


async def sql_ok(http: httpx.AsyncClient, project: dict[str, Any], text: str) -> dict[str, Any]:
    answer = await sql(http, project, text)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def apply_rls(
    http: httpx.AsyncClient, project: dict[str, Any], template: str, tables: list[dict[str, Any]],
) -> httpx.Response:
    return await http.post(
        f"/admin/v1/projects/{project['project_id']}/rls", headers=service(project),
        json={"template": template, "tables": tables},
    )


async def schema_of(http: httpx.AsyncClient, project: dict[str, Any]) -> dict[str, Any]:
    answer = await http.get(f"/admin/v1/projects/{project['project_id']}/schema", headers=service(project))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def user(http: httpx.AsyncClient, project: dict[str, Any]) -> tuple[str, str]:
    """Sign a new user up and in: (user id, access token)."""
    email = f"u-{uuid.uuid4().hex[:10]}@example.com"
    signed = await http.post("/auth/v1/signup", headers=anon(project), json={"email": email, "password": PASSWORD})
    assert signed.status_code == 201, signed.text
    token = await http.post("/auth/v1/token", headers=anon(project), json={"email": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return signed.json()["id"], token.json()["access_token"]


def decode_header(value: str) -> dict[str, Any]:
    """A base64 JSON header (PAYMENT-REQUIRED, PAYMENT-RESPONSE)."""
    return dict(json.loads(base64.b64decode(value)))


def assert_error(answer: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The answer is a JSON error body with `error` and `message` (and the given code)."""
    assert answer.status_code == status, (answer.status_code, answer.text)
    assert answer.headers["content-type"].startswith("application/json"), answer.headers
    body = answer.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("message"), str) and body["message"], body
    if code is not None:
        assert body["error"] == code, body
    return dict(body)


# --- processes ------------------------------------------------------------------------


def postgres_processes(data_dir: Path) -> list[int]:
    """Live postgres processes of the cluster under `data_dir`.

    The postmaster names the data dir in its command line; every postgres process
    (postmaster and backends, whose titles are rewritten) runs in the data dir.
    """
    target = str(data_dir.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if "postgres" not in (entry / "comm").read_text():
                continue
            state = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("State:"))
            if "Z" in state.split()[1]:
                continue  # a zombie has exited already
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except (OSError, StopIteration):
            continue
        if target in cmdline or cwd == target or cwd.startswith(target + "/"):
            found.append(int(entry.name))
    return found
