"""The client's functions, secrets and apps namespaces against the real sandbox."""

from __future__ import annotations

import uuid

import pytest
from conftest import charges, new_key

from appwright.platforms.run402 import ApiError, ProjectCreated, Run402

pytestmark = pytest.mark.asyncio(loop_scope="session")

ECHO = """
export default async (req) => new Response(JSON.stringify({
  method: req.method, body: req.method === 'POST' ? await req.json() : null,
  q: new URL(req.url).searchParams.get('q'), token: process.env.TOKEN ?? null,
}), { status: 202, headers: { 'Content-Type': 'application/json', 'X-Echo': '1' } });
"""
THROWS = "export default async () => { throw new Error('client sees this'); };"


async def test_functions_and_secrets(client: Run402, project: ProjectCreated) -> None:
    pid, key = project.project_id, project.service_key
    deployed = await client.functions.deploy(pid, key, "echo", ECHO, config={"timeout_s": 5})
    again = await client.functions.deploy(pid, key, "echo", ECHO, config={"timeout_s": 5})
    assert deployed.created and not again.created and deployed.url.endswith("/functions/v1/echo")
    assert deployed.config == {"timeout_s": 5.0}
    await client.secrets.set(pid, key, {"TOKEN": "t-123", "OTHER": "x"})
    called = await client.functions.invoke("echo", project.anon_key, json={"a": 1}, params={"q": "hi"})
    assert called.status == 202 and called.headers["x-echo"] == "1"
    assert called.json() == {"method": "POST", "body": {"a": 1}, "q": "hi", "token": "t-123"}
    got = await client.functions.invoke("echo", project.anon_key, method="GET")
    assert got.json()["method"] == "GET"
    listed = await client.secrets.list(pid, key)
    assert [s.key for s in listed.secrets] == ["OTHER", "TOKEN"] and listed.readiness == "ready"
    assert (await client.secrets.delete(pid, key, "OTHER")).status == "deleted"
    functions = await client.functions.list(pid, key)
    assert [f.name for f in functions.functions] == ["echo"] and functions.limit == 5
    assert (await client.functions.delete(pid, key, "echo")).status == "deleted"


async def test_function_and_secret_errors(client: Run402, project: ProjectCreated) -> None:
    pid, key = project.project_id, project.service_key
    await client.functions.deploy(pid, key, "throws", THROWS)
    with pytest.raises(ApiError) as thrown:
        await client.functions.invoke("throws", project.anon_key, json={})
    assert thrown.value.status == 500 and thrown.value.code == "function_error"
    assert "client sees this" in thrown.value.message
    with pytest.raises(ApiError) as missing:
        await client.functions.invoke("nope", project.anon_key, json={})
    assert missing.value.code == "function_not_found"
    with pytest.raises(ApiError) as bad_code:
        await client.functions.deploy(pid, key, "bad", "export default (")
    assert bad_code.value.code == "invalid_function_code"
    with pytest.raises(ApiError) as lower:
        await client.secrets.set(pid, key, {"lower": "secret-value-xyz"})
    assert lower.value.code == "invalid_secret_key" and "secret-value-xyz" not in str(lower.value)


async def test_bundle_publish_fork(client: Run402, api: str) -> None:
    assert client.address is not None
    key = new_key()
    subdomain = f"c-{uuid.uuid4().hex[:8]}"
    bundle = dict(
        migrations="CREATE TABLE notes (id serial PRIMARY KEY, body text);",
        rls={"template": "public_read", "tables": [{"table": "notes"}]},
        secrets={"TOKEN": "bundle-secret"}, functions=[{"name": "echo", "code": ECHO}],
        site={"index.html": "<h1>notes</h1>", "logo.png": b"\x89PNG\r\n"}, subdomain=subdomain,
    )
    deployed = await client.apps.deploy("notes", idempotency_key=key, **bundle)  # type: ignore[arg-type]
    replayed = await client.apps.deploy("notes", idempotency_key=key, **bundle)  # type: ignore[arg-type]
    assert replayed.replayed and replayed.project_id == deployed.project_id
    assert deployed.subdomain_url and subdomain in deployed.subdomain_url and deployed.deployment_id
    assert [f.name for f in deployed.functions] == ["echo"] and deployed.secrets == ["TOKEN"]
    assert deployed.service_key not in repr(deployed) and deployed.receipt is not None
    assert (await client.functions.invoke("echo", deployed.anon_key, json={})).json()["token"] == "bundle-secret"

    version = await client.apps.publish(deployed.project_id, deployed.service_key, description="notes app",
                                        required_secrets={"TOKEN": "the echo token"})
    inspected = await client.apps.inspect(version.version_id)
    assert inspected.schema_sql and "CREATE TABLE" in inspected.schema_sql and inspected.site_files == 2
    assert [v.version_id for v in await client.apps.versions(deployed.project_id, deployed.service_key)] == [
        version.version_id]

    forked = await client.apps.fork(version.version_id, "my-notes", idempotency_key=new_key())
    assert forked.readiness == "configuration_required" and forked.missing_secrets == ["TOKEN"]
    assert forked.required_secrets[0].description == "the echo token"
    await client.secrets.set(forked.project_id, forked.service_key, {"TOKEN": "fork-secret"})
    assert (await client.secrets.list(forked.project_id, forked.service_key)).readiness == "ready"
    assert [c.amount_usd_micros for c in await charges(api, client.address)] == [-100_000, -100_000]


async def test_bundle_failure_is_an_api_error_naming_the_part(client: Run402) -> None:
    with pytest.raises(ApiError) as failed:
        await client.apps.deploy("broken", migrations="CREATE TABLE a (id int); CREATE TABLE b (x int REFERENCES zz(id));",
                                 idempotency_key=new_key())
    assert failed.value.code == "migration_failed" and failed.value.details["part"] == "migrations"
    assert client.address is not None


async def test_paid_app_calls_need_a_key(client: Run402) -> None:
    with pytest.raises(ValueError, match="idempotency_key"):
        await client.apps.deploy("x", idempotency_key="")
    with pytest.raises(ValueError, match="idempotency_key"):
        await client.apps.fork("ver_x", "x", idempotency_key=" ")
