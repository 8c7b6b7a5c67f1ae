"""Every method of the Run402 client, against the real sandbox over loopback."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from conftest import charges, funded_account, new_key
from eth_account import Account
from eth_account.signers.local import LocalAccount

from appwright.platforms.run402 import (
    TESTNET,
    ApiError,
    AuthUser,
    ProjectCreated,
    RateLimited,
    RlsTable,
    Run402,
    Secret,
    Session,
    SqlRefused,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

TODOS = "CREATE TABLE todos (id serial PRIMARY KEY, task text NOT NULL, done boolean DEFAULT false, user_id uuid)"


# --- projects -------------------------------------------------------------------------


async def test_quote_lists_the_tiers(api: str) -> None:
    async with Run402(api=api) as client:
        quote = await client.quote()
    assert set(quote.tiers) == {"prototype", "hobby", "team"}
    assert quote.tiers["prototype"].price_usd_micros == 100_000
    assert quote.tiers["hobby"].lease_days == 30
    assert quote.site_deployment_usd_micros == 50_000


async def test_create_project_returns_keys_and_its_receipt(
    api: str, client: Run402, account: LocalAccount,
) -> None:
    created = await client.create_project("my-app", idempotency_key=new_key())
    assert created.project_id.startswith("prj_") and created.name == "my-app" and created.tier == "prototype"
    assert isinstance(created.anon_key, Secret) and isinstance(created.service_key, Secret)
    assert created.anon_key != created.service_key
    assert created.schema_slot.startswith("p")
    assert created.lease_expires_at - dt.datetime.now(dt.UTC) > dt.timedelta(days=6)
    assert not created.replayed
    receipt = created.receipt
    assert receipt is not None and receipt.amount_micros == 100_000
    assert receipt.payer.lower() == account.address.lower() and receipt.network == TESTNET
    [charge] = await charges(api, account.address)
    assert charge.amount_usd_micros == -100_000
    assert (charge.project_id, charge.tx) == (created.project_id, receipt.transaction)


async def test_an_unknown_tier_is_an_api_error_and_costs_nothing(
    api: str, client: Run402, account: LocalAccount,
) -> None:
    with pytest.raises(ApiError) as caught:
        await client.create_project("x", "gold", idempotency_key=new_key())  # type: ignore[arg-type]
    assert (caught.value.status, caught.value.code) == (400, "unknown_tier")
    assert "prototype" in (caught.value.hint or "")
    assert await charges(api, account.address) == []


async def test_renew_extends_the_lease(client: Run402, project: ProjectCreated) -> None:
    renewed = await client.renew(project.project_id, idempotency_key=new_key())
    assert renewed.project_id == project.project_id and renewed.tier == "prototype"
    assert renewed.lease_expires_at - project.lease_expires_at > dt.timedelta(days=6, hours=23)
    assert renewed.receipt is not None and renewed.receipt.amount_micros == 100_000


async def test_delete_project(client: Run402, project: ProjectCreated) -> None:
    deleted = await client.delete_project(project.project_id, project.service_key)
    assert (deleted.project_id, deleted.status) == (project.project_id, "deleted")
    with pytest.raises(ApiError) as caught:
        await client.sql(project.project_id, project.service_key, "SELECT 1")
    assert (caught.value.status, caught.value.code) == (404, "project_not_found")


# --- admin ----------------------------------------------------------------------------


async def test_sql_runs_ddl_and_returns_rows(client: Run402, project: ProjectCreated) -> None:
    ddl = await client.sql(project.project_id, project.service_key, TODOS)
    assert (ddl.status, ddl.schema_name, ddl.rows, ddl.row_count) == ("ok", project.schema_slot, [], 0)
    await client.sql(project.project_id, project.service_key, "INSERT INTO todos (task) VALUES ('a'), ('b')")
    rows = await client.sql(project.project_id, project.service_key, "SELECT id, task FROM todos ORDER BY id")
    assert rows.rows == [{"id": 1, "task": "a"}, {"id": 2, "task": "b"}] and rows.row_count == 2


async def test_sql_errors_are_typed(client: Run402, project: ProjectCreated) -> None:
    # Blocked SQL and syntax errors never reach the backend: see test_run402_sqlgate.
    with pytest.raises(SqlRefused) as blocked:
        await client.sql(project.project_id, project.service_key, "GRANT ALL ON SCHEMA public TO public")
    assert blocked.value.reason == "blocked_statement" and blocked.value.hint
    with pytest.raises(SqlRefused) as syntax:
        await client.sql(project.project_id, project.service_key, "SELEKT 1")
    assert syntax.value.reason == "sql_syntax_error"
    with pytest.raises(ApiError) as missing:
        await client.sql(project.project_id, project.service_key, "SELECT * FROM nowhere")
    assert missing.value.code == "sql_error" and missing.value.details["sqlstate"] == "42P01"
    with pytest.raises(ApiError) as anon:
        await client.sql(project.project_id, project.anon_key, "SELECT 1")
    assert (anon.value.status, anon.value.code) == (403, "service_key_required")


async def test_sql_with_an_idempotency_key_runs_once(client: Run402, project: ProjectCreated) -> None:
    await client.sql(project.project_id, project.service_key, TODOS)
    key = new_key()
    first = await client.sql(project.project_id, project.service_key, "INSERT INTO todos (task) VALUES ('x')",
                             idempotency_key=key)
    again = await client.sql(project.project_id, project.service_key, "INSERT INTO todos (task) VALUES ('x')",
                             idempotency_key=key)
    assert (first.replayed, again.replayed) == (False, True)
    count = await client.sql(project.project_id, project.service_key, "SELECT count(*) AS n FROM todos")
    assert count.rows == [{"n": 1}]


async def test_schema_and_rls(client: Run402, project: ProjectCreated) -> None:
    pid, key = project.project_id, project.service_key
    await client.sql(pid, key, TODOS + "; CREATE TABLE notes (id serial PRIMARY KEY, body text)")
    applied = await client.rls(pid, key, "user_owns_rows", [RlsTable(table="todos", owner_column="user_id")],
                               idempotency_key=new_key())
    assert (applied.status, applied.template, applied.tables) == ("ok", "user_owns_rows", ["todos"])
    public = await client.rls(pid, key, "public_read", ["notes"])
    assert public.tables == ["notes"] and not public.replayed
    schema = await client.schema(pid, key)
    assert schema.schema_name == project.schema_slot and [t.name for t in schema.tables] == ["notes", "todos"]
    todos = schema.table("todos")
    assert todos is not None and todos.rls_enabled and todos.primary_key == ["id"] and todos.policies
    assert [c.name for c in todos.columns] == ["id", "task", "done", "user_id"]
    task = todos.column("task")
    assert task is not None and (task.type, task.nullable) == ("text", False)
    with pytest.raises(ApiError) as bad:
        await client.rls(pid, key, "everyone_writes", ["notes"])  # type: ignore[arg-type]
    assert bad.value.status == 400


# --- REST -----------------------------------------------------------------------------


async def test_rest_select_with_filters_order_paging_columns_and_count(client: Run402, project: ProjectCreated) -> None:
    pid, key = project.project_id, project.service_key
    await client.sql(pid, key, TODOS)
    await client.rest.insert("todos", key, [{"task": f"t{i}", "done": i % 2 == 0} for i in range(1, 8)],
                             returning=False)
    found = await client.rest.select("todos", project.anon_key, filters={"done": "eq.false"}, order="id.desc",
                                     limit=2, offset=1, select=["id", "task"], count=True)
    assert found.rows == [{"id": 5, "task": "t5"}, {"id": 3, "task": "t3"}] and found.total == 4
    ranged = await client.rest.select("todos", key, filters=[("id", "gte.2"), ("id", "lte.3")], order=["id"])
    assert [r["id"] for r in ranged.rows] == [2, 3] and ranged.total is None
    either = await client.rest.select("todos", key, filters={"or": "(id.eq.1,id.eq.7)"}, select="id")
    assert sorted(r["id"] for r in either.rows) == [1, 7]
    with pytest.raises(ApiError) as bad:
        await client.rest.select("todos", key, filters={"id": "almost.1"})
    assert (bad.value.status, bad.value.code) == (400, "invalid_query")


async def test_rest_insert_update_delete(client: Run402, project: ProjectCreated) -> None:
    key = project.service_key
    await client.sql(project.project_id, key, TODOS)
    one = await client.rest.insert("todos", key, {"task": "one"})
    assert one.rows is not None and one.rows[0]["task"] == "one" and not one.replayed
    quiet = await client.rest.insert("todos", key, [{"task": "two"}, {"task": "three"}], returning=False)
    assert quiet.rows is None
    updated = await client.rest.update("todos", key, {"done": True}, filters={"id": "in.(1,2)"})
    assert sorted(r["id"] for r in (updated.rows or [])) == [1, 2]
    deleted = await client.rest.delete("todos", key, filters={"done": "eq.true"}, returning=True)
    assert len(deleted.rows or []) == 2
    left = await client.rest.select("todos", key)
    assert [r["task"] for r in left.rows] == ["three"]
    with pytest.raises(ApiError) as anon:
        await client.rest.insert("todos", project.anon_key, {"task": "no"})
    assert anon.value.status in (401, 403)


async def test_rest_upsert(client: Run402, project: ProjectCreated) -> None:
    key = project.service_key
    await client.sql(project.project_id, key, TODOS)
    await client.rest.insert("todos", key, {"task": "one"})
    upsert = await client.rest.insert("todos", key, {"id": 1, "task": "uno"}, on_conflict="id",
                                      resolution="merge-duplicates")
    assert upsert.rows == [{"id": 1, "task": "uno", "done": False, "user_id": None}]


async def test_rest_writes_with_an_idempotency_key_happen_once(client: Run402, project: ProjectCreated) -> None:
    key = project.service_key
    await client.sql(project.project_id, key, TODOS)
    idem = new_key()
    first = await client.rest.insert("todos", key, {"task": "once"}, idempotency_key=idem)
    again = await client.rest.insert("todos", key, {"task": "once"}, idempotency_key=idem)
    assert (first.replayed, again.replayed, again.rows) == (False, True, first.rows)
    assert len((await client.rest.select("todos", key)).rows) == 1


# --- auth -----------------------------------------------------------------------------


async def test_auth_signup_login_user_refresh_logout(client: Run402, project: ProjectCreated) -> None:
    anon = project.anon_key
    user = await client.auth.signup(anon, "Ada@Example.com", "correct horse")
    assert isinstance(user, AuthUser) and user.email == "ada@example.com"
    session = await client.auth.login(anon, "ada@example.com", "correct horse")
    assert isinstance(session, Session) and session.user.id == user.id and session.expires_in > 0
    assert isinstance(session.access_token, Secret) and session.token_type == "bearer"
    assert (await client.auth.user(session.access_token)).id == user.id
    renewed = await client.auth.refresh(anon, session.refresh_token)
    assert renewed.refresh_token != session.refresh_token
    with pytest.raises(ApiError) as reused:
        await client.auth.refresh(anon, session.refresh_token)  # single use
    assert reused.value.code == "invalid_grant"
    await client.auth.logout(renewed.access_token)
    with pytest.raises(ApiError) as revoked:
        await client.auth.refresh(anon, renewed.refresh_token)
    assert revoked.value.code == "invalid_grant"
    with pytest.raises(ApiError) as wrong:
        await client.auth.login(anon, "ada@example.com", "wrong password")
    assert (wrong.value.status, wrong.value.code) == (400, "invalid_grant")
    with pytest.raises(ApiError) as taken:
        await client.auth.signup(anon, "ada@example.com", "another one")
    assert (taken.value.status, taken.value.code) == (409, "user_exists")


async def test_a_users_access_token_writes_its_own_rows_under_rls(client: Run402, project: ProjectCreated) -> None:
    await client.sql(project.project_id, project.service_key, TODOS)
    await client.rls(project.project_id, project.service_key, "user_owns_rows",
                     [RlsTable(table="todos", owner_column="user_id")])
    user = await client.auth.signup(project.anon_key, "bo@example.com", "secret-pw")
    session = await client.auth.login(project.anon_key, "bo@example.com", "secret-pw")
    mine = await client.rest.insert("todos", session.access_token, {"task": "mine", "user_id": user.id})
    assert mine.rows is not None and mine.rows[0]["user_id"] == user.id
    await client.rest.insert("todos", project.service_key, {"task": "not mine"})
    seen = await client.rest.select("todos", session.access_token)
    assert [r["task"] for r in seen.rows] == ["mine"]


# --- sites and subdomains -------------------------------------------------------------


async def test_deploy_site_and_manage_its_subdomain(api: str, client: Run402, project: ProjectCreated) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00binary"
    site = await client.deploy_site("site", project.project_id, {"index.html": "<h1>hello</h1>", "logo.png": png},
                                    idempotency_key=new_key())
    assert site.deployment_id.startswith("dpl_") and site.project_id == project.project_id
    assert site.files == 2 and site.receipt is not None and site.receipt.amount_micros == 50_000
    assert site.path_url is not None
    async with httpx.AsyncClient() as http:
        assert (await http.get(site.path_url)).text == "<h1>hello</h1>"
        assert (await http.get(site.path_url + "logo.png")).content == png
    name = f"app-{new_key()[:8]}"
    claimed = await client.subdomains.claim(name, site.deployment_id, project.service_key)
    assert (claimed.name, claimed.deployment_id, claimed.created) == (name, site.deployment_id, True)
    again = await client.subdomains.claim(name, site.deployment_id, project.service_key, idempotency_key=new_key())
    assert again.created is False
    assert (await client.subdomains.lookup(name)).deployment_id == site.deployment_id
    assert [s.name for s in await client.subdomains.list(project.service_key)] == [name]
    released = await client.subdomains.release(name, project.service_key)
    assert (released.name, released.status) == (name, "deleted")
    with pytest.raises(ApiError) as gone:
        await client.subdomains.lookup(name)
    assert (gone.value.status, gone.value.code) == (404, "subdomain_not_found")
    with pytest.raises(ApiError) as bad:
        await client.subdomains.claim("API", site.deployment_id, project.service_key)
    assert (bad.value.code, bad.value.details.get("rule")) == ("invalid_subdomain", "characters")


# --- money ----------------------------------------------------------------------------


async def test_send_message_and_read_the_inbox(api: str, client: Run402, account: LocalAccount) -> None:
    sent = await client.send_message("Hello from the tests", idempotency_key=new_key())
    assert sent.status == "sent" and sent.receipt is not None and sent.receipt.amount_micros == 10_000
    inbox = await client.messages(limit=50)
    mine = [m for m in inbox if m.id == sent.id]
    assert mine and mine[0].message == "Hello from the tests" and mine[0].wallet == account.address.lower()


async def test_billing_account_and_history(api: str, client: Run402, account: LocalAccount) -> None:
    fresh = await client.billing.account(account.address)
    assert (fresh.wallet, fresh.available_usd_micros, fresh.available_usd) == (account.address.lower(), 250_000, "0.25")
    created = await client.create_project("billed", idempotency_key=new_key())
    after = await client.billing.account(account.address)
    assert after.available_usd_micros == 150_000 and after.total_spent_usd_micros == 100_000
    history = await client.billing.history(account.address)
    assert [(e.kind, e.amount_usd_micros) for e in history.entries] == [("charge", -100_000), ("faucet", 250_000)]
    assert history.entries[0].project_id == created.project_id
    assert len((await client.billing.history(account.address, limit=1)).entries) == 1


async def test_faucet_grants_once_then_says_when_again(api: str) -> None:
    account = await funded_account(api)  # the first grant
    async with Run402(api=api) as client:
        assert (await client.billing.account(account.address)).available_usd_micros == 250_000
        with pytest.raises(RateLimited) as caught:
            await client.faucet(account.address)
    limited = caught.value
    assert (limited.status, limited.code) == (429, "faucet_rate_limited")
    assert limited.retry_after is not None and limited.retry_after > 86_000
    assert limited.next_available_at is not None
    again = dt.datetime.fromisoformat(limited.next_available_at)
    assert abs((again - dt.datetime.now(dt.UTC) - dt.timedelta(hours=24)).total_seconds()) < 120


async def test_faucet_grant_fields(api: str) -> None:
    newcomer = Account.create()
    async with Run402(api=api) as client:
        grant = await client.faucet(newcomer.address)
    assert (grant.address, grant.amount_usd_micros, grant.available_usd_micros) == (
        newcomer.address.lower(), 250_000, 250_000)
    assert grant.network == TESTNET and grant.tx.startswith("0x") and grant.next_available_at is not None


async def test_a_faucet_call_resent_with_its_key_is_answered_again(api: str) -> None:
    # What an engine resuming after a crash does: the same call, the same key.
    newcomer = Account.create()
    async with Run402(api=api) as client:
        key = new_key()
        first = await client.faucet(newcomer.address, idempotency_key=key)
        again = await client.faucet(newcomer.address, idempotency_key=key)
        with pytest.raises(RateLimited):  # a new grant is still refused
            await client.faucet(newcomer.address, idempotency_key=new_key())
        balance = (await client.billing.account(newcomer.address)).available_usd_micros
    assert again.tx == first.tx and (first.replayed, again.replayed) == (False, True) and balance == 250_000
