"""A short way in for the hottest routes, from a server-side client.

The full app's routing (its routes tried one by one) and its middleware layers (server
errors, site hosts, CORS, exceptions) stand between a request and its handler; for a
small REST read or a paid call they cost more than the work itself (measured when the
app was FastAPI, see bench/README.md).
This ASGI front answers two kinds of request with the very handler the full app routes
them to, and hands everything else — browsers (an Origin header: CORS), site hosts,
every other route — to the full app:

* `GET /rest/v1/:table` (`api_rest.select`);
* `POST` on a paid route with a fixed path (`/v1/message`, `/v1/projects`,
  `/v1/deployments`): the handler is looked up in the routers once, in the order the
  full app matches them, so the front calls what the full app would have called.

An `ApiError` becomes the same JSON answer as in the full app.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from . import api_rest, api_sites
from .errors import ApiError, error_response
from .routing import Router

__all__ = ["FastPath", "DIRECT_POSTS"]

_PREFIX = "/rest/v1/"

DIRECT_POSTS: tuple[str, ...] = ("/v1/message", "/v1/projects", "/v1/deployments")
"""Paid routes served by the front: fixed paths whose handler takes only the request."""

Handler = Callable[[Request], Awaitable[Response]]


class FastPath:
    """An ASGI app in front of the sandbox app."""

    def __init__(self, app: ASGIApp, routers: Sequence[Router]) -> None:
        self.app = app
        self._posts = direct_handlers(routers, DIRECT_POSTS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self._handler(scope)
        if handler is None:
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app  # what `sandbox_of(request)` reads the state from
        try:
            response = await handler(Request(scope, receive))
        except ApiError as error:
            response = error_response(error)
        await response(scope, receive, send)

    def _handler(self, scope: Scope) -> Handler | None:
        if scope["type"] != "http":
            return None
        handler: Handler | None = None
        if scope["method"] == "POST":
            handler = self._posts.get(scope["path"])
        elif scope["method"] == "GET":
            table = _plain_read(scope)
            if table is not None:
                handler = functools.partial(api_rest.select, table=table)
        if handler is None or not _server_side(scope):
            return None
        return handler


def direct_handlers(routers: Sequence[Router], paths: Sequence[str]) -> dict[str, Handler]:
    """For each path, the handler of the first route of `routers` that a POST to it matches.

    Only a handler that takes the request alone is kept: one with path parameters needs
    the route to call it.
    """
    found: dict[str, Handler] = {}
    for path in paths:
        scope = {"type": "http", "method": "POST", "path": path, "root_path": ""}
        route = next(
            (
                route
                for router in routers
                for route in router.routes
                if route.matches(scope)[0] is Match.FULL
            ),
            None,
        )
        if route is not None and list(inspect.signature(route.handler).parameters) == ["request"]:
            found[path] = route.handler
    return found


def _server_side(scope: Scope) -> bool:
    # A browser (Origin: CORS headers) or a site host goes through the full app.
    if any(name == b"origin" for name, _ in scope["headers"]):
        return False
    return api_sites.host_target(scope) is None


def _plain_read(scope: Scope) -> str | None:
    if not scope["path"].startswith(_PREFIX):
        return None
    table = scope["path"][len(_PREFIX):]
    if not table or "/" in table or "%" in scope.get("raw_path", b"").decode("latin-1"):
        return None
    return table
