"""The fast front calls what the full app would call, and leaves browsers to the full app."""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from appwright.sandbox import api_billing, api_projects, api_sites
from appwright.sandbox.app import _ROUTERS, SandboxConfig, create_full_app
from appwright.sandbox.errors import ApiError, api_error_handler, internal_error_handler
from appwright.sandbox.fastpath import DIRECT_POSTS, FastPath, direct_handlers
from appwright.sandbox.routing import Router


def test_every_direct_post_has_the_handler_the_app_routes_to() -> None:
    handlers = direct_handlers([module.router for module in _ROUTERS], DIRECT_POSTS)
    assert handlers == {
        "/v1/message": api_billing.send_message,
        "/v1/projects": api_projects.create_default,
        "/v1/deployments": api_sites.create_deployment,
    }


def test_the_first_matching_route_wins_and_only_request_only_handlers_are_kept() -> None:
    first, second = Router(), Router()

    @first.post("/v1/{anything}")
    async def catch_all(request: Request, anything: str) -> Response:
        return Response()

    @second.post("/v1/message")
    async def message(request: Request) -> Response:
        return Response()

    @second.post("/v1/other")
    async def other(request: Request) -> Response:
        return Response()

    assert direct_handlers([first, second], ["/v1/message", "/v1/other"]) == {}
    assert direct_handlers([second, first], ["/v1/message", "/v1/other"]) == {
        "/v1/message": message, "/v1/other": other,
    }
    assert direct_handlers([second], ["/v1/missing"]) == {}


async def test_a_paid_route_answers_a_browser_with_cors_and_a_server_without(api: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        browser = await http.post("/v1/message", json={"message": "hi"},
                                  headers={"Origin": "http://todo.localhost:8402"})
        server = await http.post("/v1/message", json={"message": "hi"})
    for answer in (browser, server):
        assert answer.status_code == 402
        assert answer.headers["payment-required"]
        assert answer.json()["error"] == "payment_required"
    assert browser.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in server.headers
    assert browser.json() == server.json()


async def test_a_bad_body_is_the_same_400_on_both_paths(api: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        browser = await http.post("/v1/message", content=b"{nope", headers={"Origin": "http://a.localhost"})
        server = await http.post("/v1/message", content=b"{nope")
    assert browser.status_code == server.status_code == 400
    assert browser.json() == server.json()


def _failing_front() -> FastPath:
    router = Router()

    @router.post("/v1/message")
    async def fails(request: Request) -> Response:
        raise RuntimeError("a fault of the handler")

    behind = Starlette(routes=list(router.routes),
                       exception_handlers={ApiError: api_error_handler, Exception: internal_error_handler})
    return FastPath(behind, [router])


async def test_a_fault_is_a_json_500_on_the_fast_path_and_in_the_full_app() -> None:
    front = _failing_front()
    transport = httpx.ASGITransport(app=front, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        server = await http.post("/v1/message", json={})  # server side: the fast path
        browser = await http.post("/v1/message", json={}, headers={"Origin": "http://todo.localhost:8402"})
    for answer in (server, browser):
        assert answer.status_code == 500
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["error"] == "internal_error"
        assert "RuntimeError" in answer.json()["message"]


def test_the_sandbox_app_answers_any_fault_in_json() -> None:
    app = create_full_app(SandboxConfig(data_dir=Path("unused")))
    assert app.exception_handlers[Exception] is internal_error_handler
