"""The fast front calls what the full app would call, and leaves browsers to the full app."""

from __future__ import annotations

import httpx
from starlette.requests import Request
from starlette.responses import Response

from appwright.sandbox import api_billing, api_projects, api_sites
from appwright.sandbox.app import _ROUTERS
from appwright.sandbox.fastpath import DIRECT_POSTS, direct_handlers
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
