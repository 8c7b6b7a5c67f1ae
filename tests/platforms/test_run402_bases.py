"""A wrong API base gives a typed error that names the right one."""

from __future__ import annotations

import re
import socket
import time

import httpx
import pytest
from conftest import new_key
from eth_account import Account

from appwright.platforms.run402 import (
    ApiBase,
    ApiError,
    ApiUnreachable,
    InvalidApiBase,
    ProjectCreated,
    Run402,
    WrongApiBase,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_nothing_listening_says_start_a_sandbox_or_pass_api() -> None:
    base = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    async with Run402(api=base) as client:
        with pytest.raises(ApiUnreachable) as caught:
            await client.quote()
    assert time.monotonic() - started < 3
    message = str(caught.value)
    assert message.startswith(f"nothing answers at {base} (from --api)")
    assert "appwright sandbox" in message and "--api" in message
    assert caught.value.base == base


async def test_the_default_base_is_named_when_nothing_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    port = _closed_port()
    monkeypatch.setenv("APPWRIGHT_API", f"http://127.0.0.1:{port}")
    async with Run402() as client:
        with pytest.raises(ApiUnreachable, match=re.escape(f"127.0.0.1:{port} (from APPWRIGHT_API)")):
            await client.billing.account(Account.create().address)


async def test_a_web_site_base_is_told_apart_from_the_api(api: str, client: Run402, project: ProjectCreated) -> None:
    # A deployed static site behaves as a docs site does: pages for GET, 405 for POST.
    site = await client.deploy_site("docs", project.project_id, {"index.html": "<!DOCTYPE html><h1>Docs</h1>"},
                                    idempotency_key=new_key())
    docs = f"{api}/sites/{site.deployment_id}"
    async with Run402(api=docs) as wrong:
        with pytest.raises(WrongApiBase) as posted:
            await wrong.quote()
        with pytest.raises(WrongApiBase) as got:
            await wrong.billing.account(Account.create().address)
    assert "405" in str(posted.value) and "looks like a web site" in str(posted.value)
    assert "HTML page" in str(got.value)
    assert posted.value.base == docs and "127.0.0.1:8402" in str(posted.value)


async def test_the_hosted_docs_site_is_named_with_the_api_base() -> None:
    def docs_site(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(405, text="Method Not Allowed")
        return httpx.Response(200, html="<!DOCTYPE html><title>Run402</title>")

    base = ApiBase(url="http://run402.com", source="--api")
    async with Run402(api=base, transport=httpx.MockTransport(docs_site)) as client:
        with pytest.raises(WrongApiBase) as caught:
            await client.quote()
    assert str(caught.value).startswith("http://run402.com (from --api) looks like the docs site")
    assert str(caught.value).endswith("the API base is https://api.run402.com")
    assert caught.value.suggested == "https://api.run402.com"


async def test_the_docs_site_is_refused_up_front() -> None:
    with pytest.raises(InvalidApiBase, match=r"the API base is https://api\.run402\.com"):
        Run402(api="http://run402.com")


async def test_a_base_with_a_wrong_path_says_check_the_base(api: str) -> None:
    async with Run402(api=f"{api}/api") as client:
        with pytest.raises(ApiError) as caught:
            await client.quote()
    error = caught.value
    # The sandbox names the route it has not got, and says to check the base.
    assert (error.status, error.code) == (404, "route_not_found")
    assert error.message == "no route POST /api/v1/projects/quote"
    assert error.hint is not None and "API base" in error.hint
