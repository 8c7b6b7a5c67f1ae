"""No key, token, password or private key in any log line, repr or error message of a full flow."""

from __future__ import annotations

import logging

import pytest
from conftest import new_key
from eth_account import Account
from eth_account.signers.local import LocalAccount

from appwright.platforms.run402 import ApiError, Budget, RlsTable, Run402, Run402Error

pytestmark = pytest.mark.asyncio(loop_scope="session")

_LOGGERS = ("", "httpx", "httpcore", "appwright", "x402", "asyncio")
PASSWORD = "hunter2-but-longer"


def _everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(f"{formatter.format(r)} {r.args!r} {r.exc_text or ''}" for r in caplog.records)


async def test_a_full_flow_leaks_no_secret(api: str, caplog: pytest.LogCaptureFixture) -> None:
    for name in _LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    account: LocalAccount = Account.create()
    shown: list[str] = []  # every repr and error text the flow produced

    async with Run402(api=api, account=account, budget=Budget(limit_micros=1_000_000)) as client:
        shown.append(repr(client))
        shown.append(repr(await client.faucet(account.address)))
        created = await client.create_project("secret-test", idempotency_key=new_key())
        pid, service, anon = created.project_id, created.service_key, created.anon_key
        shown.append(repr(created))
        shown.append(repr(await client.sql(pid, service, "CREATE TABLE notes (id serial PRIMARY KEY, body text, "
                                           "user_id uuid)", idempotency_key=new_key())))
        owned = [RlsTable(table="notes", owner_column="user_id")]
        shown.append(repr(await client.rls(pid, service, "user_owns_rows", owned)))
        shown.append(repr(await client.schema(pid, service)))
        user = await client.auth.signup(anon, "eve@example.com", PASSWORD)
        session = await client.auth.login(anon, "eve@example.com", PASSWORD)
        shown.extend([repr(user), repr(session), str(session)])
        shown.append(repr(await client.rest.insert("notes", session.access_token, {"body": "hi", "user_id": user.id})))
        shown.append(repr(await client.rest.select("notes", session.access_token, count=True)))
        shown.append(repr(await client.rest.update("notes", service, {"body": "yo"}, filters={"id": "eq.1"})))
        shown.append(repr(await client.auth.user(session.access_token)))
        refreshed = await client.auth.refresh(anon, session.refresh_token)
        shown.append(repr(refreshed))
        site = await client.deploy_site("s", pid, {"index.html": "<p>x</p>"}, idempotency_key=new_key())
        name = f"sec-{new_key()[:8]}"
        shown.append(repr(await client.subdomains.claim(name, site.deployment_id, service)))
        shown.append(repr(await client.subdomains.list(service)))
        shown.append(repr(await client.billing.history(account.address)))
        for failing in (
            client.auth.refresh(anon, session.refresh_token),  # used up
            client.auth.login(anon, "eve@example.com", PASSWORD + "x"),
            client.rest.insert("notes", anon, {"body": "anon may not"}),
            client.sql(pid, anon, "SELECT 1"),
            client.sql(pid, service, f"SELECT '{service}'::int"),  # the key inside an error text
            client.subdomains.release("nobody-has-this", service),
        ):
            with pytest.raises(Run402Error) as caught:
                await failing
            shown.extend([str(caught.value), repr(caught.value), repr(getattr(caught.value, "details", ""))])
            assert isinstance(caught.value, ApiError)
        await client.auth.logout(refreshed.access_token)
        shown.append(repr(await client.delete_project(pid, service)))

    secrets = {
        "anon key": anon, "service key": service, "access token": session.access_token,
        "refresh token": session.refresh_token, "new access token": refreshed.access_token,
        "new refresh token": refreshed.refresh_token, "password": PASSWORD,
        "private key": bytes(account.key).hex(),
    }
    logged = _everything_logged(caplog)
    assert "httpcore" in logged and "appwright.platforms.run402" in logged  # the capture saw the traffic
    text = logged + "\n".join(shown)
    leaked = [what for what, value in secrets.items() if str(value) in text]
    assert leaked == []
    assert any("invalid input syntax" in s and "[redacted]" in s for s in shown)  # scrubbed, not absent
