"""End-to-end: quote, create (every tier), renew, delete, and how paid routes charge."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest
from core import (
    anon, assert_error, create, db, dbval, decode_header, rich_account, rich_payer, service, sql, sql_ok,
)
from paying import balance, history, new_account, payer

from appwright.sandbox.paid import PAY_TO

pytestmark = pytest.mark.asyncio(loop_scope="session")

BASE_SEPOLIA_USDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
NOW_SLACK = dt.timedelta(minutes=1)


def _lease(body: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(body["lease_expires_at"])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# --- quote -----------------------------------------------------------------------------


async def test_quote_is_free_and_lists_the_seeds_tiers(api: str) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answer = await http.post("/v1/projects/quote")
    assert answer.status_code == 200, answer.text
    assert "PAYMENT-REQUIRED" not in answer.headers
    tiers = answer.json()["tiers"]
    assert tiers == {
        "prototype": {"price": "0.10", "price_usd_micros": 100_000, "lease_days": 7, "storage_mb": 250,
                      "api_calls": 500_000, "functions": 5},
        "hobby": {"price": "5.00", "price_usd_micros": 5_000_000, "lease_days": 30, "storage_mb": 1024,
                  "api_calls": 5_000_000, "functions": 25},
        "team": {"price": "20.00", "price_usd_micros": 20_000_000, "lease_days": 30, "storage_mb": 10 * 1024,
                 "api_calls": 50_000_000, "functions": 100},
    }
    assert answer.json()["site_deployment_usd_micros"] == 50_000


# --- create ----------------------------------------------------------------------------


async def test_create_prototype_returns_keys_slot_and_a_7_day_lease(api: str, pg_dsn: str) -> None:
    account = await new_account(api)
    async with payer(api, account) as http:
        answer = await http.post("/v1/projects", json={"name": "my-app"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert {"project_id", "anon_key", "service_key", "schema_slot", "lease_expires_at"} <= set(body)
    assert re.fullmatch(r"prj_[0-9a-f]{16}", body["project_id"])
    assert re.fullmatch(r"p\d{4}", body["schema_slot"])
    assert body["anon_key"] != body["service_key"]
    assert body["tier"] == "prototype" and body["name"] == "my-app"
    assert abs(_lease(body) - (_now() + dt.timedelta(days=7))) < NOW_SLACK
    assert answer.headers["X-Run402-Settlement-Rail"] == "x402"
    settled = decode_header(answer.headers["PAYMENT-RESPONSE"])
    assert settled["success"] is True and settled["payer"].lower() == account.address.lower()

    # charged exactly once, 0.10 USD, and the ledger names the project
    assert await balance(api, account.address) == 150_000
    charges = [e for e in await history(api, account.address) if e["kind"] == "charge"]
    assert [e["amount_usd_micros"] for e in charges] == [-100_000]
    row = (await db(pg_dsn, "SELECT * FROM sandbox.projects WHERE id = $1", body["project_id"]))[0]
    assert (row["slot"], row["tier"], row["wallet"], row["status"]) == (
        body["schema_slot"], "prototype", account.address.lower(), "active")
    # its schema and roles exist
    assert await dbval(pg_dsn, "SELECT to_regnamespace($1) IS NOT NULL", body["schema_slot"])
    roles = await db(pg_dsn, "SELECT rolname FROM pg_roles WHERE rolname LIKE $1 ORDER BY 1", body["schema_slot"] + "_%")
    assert [r["rolname"] for r in roles] == [f"{body['schema_slot']}_{k}" for k in ("anon", "owner", "user")]
    # and the keys work at once
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        assert (await sql(http, body, "SELECT 1 AS one")).json()["rows"] == [{"one": 1}]


async def test_create_without_a_body_uses_a_default_name(api: str) -> None:
    account = await new_account(api)
    async with payer(api, account) as http:
        answer = await http.post("/v1/projects")
    assert answer.status_code == 201, answer.text
    assert answer.json()["name"] == "project"


@pytest.mark.parametrize(("tier", "micros", "days"), [
    ("prototype", 100_000, 7), ("hobby", 5_000_000, 30), ("team", 20_000_000, 30),
])
async def test_create_each_tier_charges_its_price(api: str, pg_dsn: str, tier: str, micros: int, days: int) -> None:
    account = await rich_account(pg_dsn, micros + 1)
    async with rich_payer(api, account) as http:
        answer = await http.post(f"/v1/projects/create/{tier}", json={"name": f"t-{tier}"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["tier"] == tier
    assert abs(_lease(body) - (_now() + dt.timedelta(days=days))) < NOW_SLACK
    assert await balance(api, account.address) == 1
    assert await dbval(pg_dsn, "SELECT tier FROM sandbox.projects WHERE id = $1", body["project_id"]) == tier


async def test_unknown_tier_is_400_and_charges_nothing(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn, 1_000_000)
    async with httpx.AsyncClient(base_url=api, timeout=30) as plain:
        unpaid = await plain.post("/v1/projects/create/enterprise")
    body = assert_error(unpaid, 400, "unknown_tier")
    assert "prototype" in body["hint"] and "hobby" in body["hint"] and "team" in body["hint"]
    async with payer(api, account) as http:
        paid = await http.post("/v1/projects/create/Prototype", json={"name": "x"})
    assert_error(paid, 400, "unknown_tier")
    assert await balance(api, account.address) == 1_000_000
    assert await dbval(pg_dsn, "SELECT count(*) FROM sandbox.projects WHERE wallet = $1", account.address.lower()) == 0


# --- payments --------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "amount"), [
    ("/v1/projects", "100000"), ("/v1/projects/create/hobby", "5000000"), ("/v1/projects/create/team", "20000000"),
])
async def test_no_payment_is_402_with_header_and_body_listing_the_same_accepts(
    api: str, pg_dsn: str, path: str, amount: str,
) -> None:
    before = await dbval(pg_dsn, "SELECT count(*) FROM sandbox.projects")
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answer = await http.post(path, json={"name": "unpaid"})
    body = assert_error(answer, 402, "payment_required")
    header = decode_header(answer.headers["PAYMENT-REQUIRED"])
    assert header["x402Version"] == body["x402Version"] == 2
    assert header["accepts"] == body["accepts"]
    (offer,) = body["accepts"]
    assert offer["scheme"] == "exact"
    assert offer["network"] == "eip155:84532"
    assert offer["asset"] == BASE_SEPOLIA_USDC
    assert offer["amount"] == amount
    assert offer["payTo"].lower() == PAY_TO.lower()
    assert offer["extra"] == {"name": "USDC", "version": "2"}
    assert header["resource"]["url"].endswith(path)
    assert await dbval(pg_dsn, "SELECT count(*) FROM sandbox.projects") == before


async def test_insufficient_balance_is_402_and_creates_nothing(api: str, pg_dsn: str) -> None:
    account = await new_account(api)  # 0.25 USD: not enough for hobby
    wallet = account.address.lower()
    projects_before = await dbval(pg_dsn, "SELECT count(*) FROM sandbox.projects")
    roles_before = await dbval(pg_dsn, "SELECT count(*) FROM pg_roles")
    async with rich_payer(api, account) as http:
        answer = await http.post("/v1/projects/create/hobby", json={"name": "too-dear"})
    body = assert_error(answer, 402, "insufficient_funds")
    assert "fund" in body["hint"]
    assert await dbval(pg_dsn, "SELECT count(*) FROM sandbox.projects") == projects_before
    assert await dbval(pg_dsn, "SELECT count(*) FROM pg_roles") == roles_before
    assert await dbval(pg_dsn, "SELECT count(*) FROM sandbox.nonces WHERE payer = $1", wallet) == 0
    assert await balance(api, account.address) == 250_000
    assert [e["kind"] for e in await history(api, account.address)] == ["faucet"]
    # x402: a rejected payment is a 402 whose PAYMENT-REQUIRED names the same error
    # (the contract documented in appwright.platforms.x402pay_errors)
    assert "PAYMENT-REQUIRED" in answer.headers, dict(answer.headers)
    assert decode_header(answer.headers["PAYMENT-REQUIRED"])["error"] == "insufficient_funds"


async def test_unfunded_wallet_cannot_create(api: str, pg_dsn: str) -> None:
    account = await new_account(api, fund=False)
    before = await dbval(pg_dsn, "SELECT count(*) FROM sandbox.projects")
    async with payer(api, account) as http:
        answer = await http.post("/v1/projects", json={"name": "broke"})
    assert_error(answer, 402, "insufficient_funds")
    assert await dbval(pg_dsn, "SELECT count(*) FROM sandbox.projects") == before


@pytest.mark.parametrize("body", [{"name": 123}, {"name": "x" * 201}, {"name": ["a"]}, b"{not json", b"[1, 2]"])
async def test_a_failing_handler_settles_nothing(api: str, pg_dsn: str, body: Any) -> None:
    account = await new_account(api)
    before = await dbval(pg_dsn, "SELECT count(*) FROM sandbox.projects")
    async with payer(api, account) as http:
        if isinstance(body, bytes):
            answer = await http.post("/v1/projects", content=body, headers={"Content-Type": "application/json"})
        else:
            answer = await http.post("/v1/projects", json=body)
    assert answer.status_code == 400, answer.text
    assert_error(answer, 400)
    assert "PAYMENT-RESPONSE" not in answer.headers
    assert await balance(api, account.address) == 250_000
    assert [e["kind"] for e in await history(api, account.address)] == ["faucet"]
    assert await dbval(pg_dsn, "SELECT count(*) FROM sandbox.projects") == before


# --- renew -----------------------------------------------------------------------------


async def test_renew_is_paid_and_extends_the_lease_by_the_tiers_lease(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn, 1_000_000)
    project = await create(api, account, "renew-me")
    pid = project["project_id"]
    async with httpx.AsyncClient(base_url=api, timeout=30) as plain:
        unpaid = await plain.post(f"/v1/projects/{pid}/renew")
    assert_error(unpaid, 402, "payment_required")
    assert decode_header(unpaid.headers["PAYMENT-REQUIRED"])["accepts"][0]["amount"] == "100000"

    async with payer(api, account) as http:
        answer = await http.post(f"/v1/projects/{pid}/renew")
    assert answer.status_code == 200, answer.text
    renewed = answer.json()
    assert renewed["project_id"] == pid and renewed["tier"] == "prototype"
    assert _lease(renewed) == _lease(project) + dt.timedelta(days=7)
    stored = await dbval(pg_dsn, "SELECT lease_expires_at FROM sandbox.projects WHERE id = $1", pid)
    assert stored == _lease(renewed)
    assert await balance(api, account.address) == 1_000_000 - 2 * 100_000
    charges = [e for e in await history(api, account.address) if e["kind"] == "charge"]
    assert len(charges) == 2 and charges[0]["amount_usd_micros"] == -100_000
    assert "renew" in charges[0]["description"]


async def test_renew_of_an_unknown_project_is_404_and_free(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn, 500_000)
    async with payer(api, account) as http:
        answer = await http.post("/v1/projects/prj_0000000000000000/renew")
    assert_error(answer, 404, "project_not_found")
    assert await balance(api, account.address) == 500_000


async def test_renew_of_a_hobby_project_costs_5_usd_and_adds_30_days(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn, 10_000_000)
    async with rich_payer(api, account) as http:
        made = (await http.post("/v1/projects/create/hobby", json={"name": "h"})).json()
        answer = await http.post(f"/v1/projects/{made['project_id']}/renew")
    assert answer.status_code == 200, answer.text
    assert _lease(answer.json()) == _lease(made) + dt.timedelta(days=30)
    assert await balance(api, account.address) == 0


# --- delete ----------------------------------------------------------------------------


async def test_delete_needs_the_projects_own_service_key(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn, 500_000)
    project = await create(api, account, "doomed")
    other = await create(api, account, "bystander")
    pid = project["project_id"]
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE notes (id int PRIMARY KEY); INSERT INTO notes VALUES (1)")
        assert_error(await http.delete(f"/v1/projects/{pid}"), 401, "missing_service_key")
        assert_error(await http.delete(f"/v1/projects/{pid}", headers={"Authorization": f"Bearer {project['anon_key']}"}),
                     403, "service_key_required")
        assert_error(await http.delete(f"/v1/projects/{pid}", headers=service(other)), 403, "wrong_project")
        # still there
        assert (await http.get("/rest/v1/notes", headers=anon(project))).json() == [{"id": 1}]

        gone = await http.delete(f"/v1/projects/{pid}", headers=service(project))
        assert gone.status_code == 200, gone.text
        assert gone.json() == {"status": "deleted", "project_id": pid}

        # every route of the project now answers 404
        assert_error(await http.get("/rest/v1/notes", headers=anon(project)), 404, "project_not_found")
        assert_error(await http.get("/rest/v1/notes", headers={"apikey": project["service_key"]}), 404,
                     "project_not_found")
        assert_error(await sql(http, project, "SELECT 1"), 404, "project_not_found")
        assert_error(await http.get(f"/admin/v1/projects/{pid}/schema", headers=service(project)), 404)
        assert_error(await http.post(f"/admin/v1/projects/{pid}/rls", headers=service(project),
                                     json={"template": "public_read", "tables": [{"table": "notes"}]}), 404)
        assert_error(await http.post("/auth/v1/signup", headers=anon(project),
                                     json={"email": "a@example.com", "password": "long enough pw"}), 404)
        assert_error(await http.delete(f"/v1/projects/{pid}", headers=service(project)), 404)
    async with payer(api, account) as paying:
        assert_error(await paying.post(f"/v1/projects/{pid}/renew"), 404, "project_not_found")
    assert await balance(api, account.address) == 300_000  # two creations, no renewal

    # the schema and roles are gone, the row is kept as deleted; the other project is untouched
    slot = project["schema_slot"]
    assert await dbval(pg_dsn, "SELECT to_regnamespace($1)", slot) is None
    assert await dbval(pg_dsn, "SELECT count(*) FROM pg_roles WHERE rolname LIKE $1", slot + "\\_%") == 0
    assert await dbval(pg_dsn, "SELECT status FROM sandbox.projects WHERE id = $1", pid) == "deleted"
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        assert (await sql(http, other, "SELECT 1 AS ok")).status_code == 200
