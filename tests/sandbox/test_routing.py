"""The sandbox's routing: its own error shape for unknown routes and methods, HEAD on
GET routes, trailing slashes, and a start that loads neither FastAPI nor pydantic."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from eth_account import Account
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request

from appwright.sandbox.errors import http_error_handler
from appwright.sandbox.routing import Router


def test_importing_the_server_loads_neither_fastapi_nor_pydantic() -> None:
    # A new interpreter: this one has pydantic loaded by the rest of the suite.
    code = (
        "import sys, appwright.sandbox.app, appwright.sandbox.server\n"
        "print(sorted(m for m in ('fastapi', 'pydantic') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


async def test_an_unknown_route_is_a_json_route_not_found(api: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        unknown = await http.get("/v1/nope")
        head = await http.head("/v1/nope")
        not_a_table = await http.get("/rest/v1/a/b")
    assert unknown.status_code == 404
    body = unknown.json()
    assert (body["error"], body["message"]) == ("route_not_found", "no route GET /v1/nope")
    assert "API base" in body["hint"]
    assert not_a_table.json()["message"] == "no route GET /rest/v1/a/b"
    assert head.status_code == 404 and head.content == b""


async def test_a_wrong_method_is_a_json_method_not_allowed_with_its_allow_header(api: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        quote = await http.get("/v1/projects/quote")
        rest = await http.put("/rest/v1/todos")
        site = await http.post("/sites/dpl_x/app.js")
    assert quote.status_code == 405 and quote.headers["allow"] == "POST"
    assert quote.json() == {
        "error": "method_not_allowed", "message": "/v1/projects/quote takes POST, not GET", "hint": "send POST",
    }
    # Every route of the path counts, not only the first that matched it.
    assert rest.status_code == 405 and rest.headers["allow"] == "GET, HEAD, POST, PATCH, DELETE"
    assert rest.json()["error"] == "method_not_allowed"
    assert rest.json()["hint"] == "send GET or HEAD or POST or PATCH or DELETE"
    assert site.status_code == 405 and site.headers["allow"] == "GET, HEAD"


async def test_head_on_a_get_route_answers_as_get_without_the_body(api: str) -> None:
    wallet = Account.create().address.lower()
    async with httpx.AsyncClient(base_url=api) as http:
        get = await http.get(f"/v1/billing/accounts/{wallet}")
        head = await http.head(f"/v1/billing/accounts/{wallet}")
    assert get.status_code == head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"] == "application/json"
    assert head.headers["content-length"] == str(len(get.content))


async def test_a_trailing_slash_too_many_is_redirected(api: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        slashed = await http.post("/v1/projects/quote/")
        followed = await http.post("/v1/projects/quote/", follow_redirects=True)
    assert slashed.status_code == 307 and slashed.headers["location"] == f"{api}/v1/projects/quote"
    assert followed.status_code == 200 and "tiers" in followed.json()


def _app(router: Router) -> httpx.AsyncClient:
    app = Starlette(routes=router.routes, exception_handlers={HTTPException: http_error_handler})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_handler_gets_the_path_parameters_and_may_answer_json_data() -> None:
    router = Router()

    @router.get("/files/{bucket}/{path:path}")
    async def file(request: Request, bucket: str, path: str) -> dict[str, str]:
        return {"method": request.method, "bucket": bucket, "path": path}

    @router.api_route("/count/{n:int}", methods=["GET"])
    async def count(n: int) -> dict[str, int]:
        return {"next": n + 1}

    async with _app(router) as http:
        found = await http.get("/files/b/a/b c.txt")
        counted = await http.get("/count/41")
        not_a_number = await http.get("/count/x")
    assert found.status_code == 200
    assert found.json() == {"method": "GET", "bucket": "b", "path": "a/b c.txt"}
    assert counted.json() == {"next": 42}
    assert not_a_number.status_code == 404 and not_a_number.json()["error"] == "route_not_found"
    assert router.routes[0].handler is file


def test_a_handler_the_path_cannot_fill_is_refused_when_declared() -> None:
    router = Router()

    async def missing(request: Request, limit: int) -> dict[str, int]:
        return {}

    async def unused(request: Request) -> dict[str, int]:
        return {}

    with pytest.raises(TypeError, match=r"not in the path \['limit'\]"):
        router.get("/things")(missing)
    with pytest.raises(TypeError, match=r"does not take \['name'\]"):
        router.get("/things/{name}")(unused)
    assert router.routes == []
