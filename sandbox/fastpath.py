"""A short way in for the hottest routes, from a server-side client.

The full app's routing (its routes tried one by one) and its middleware layers (server
errors, site hosts, CORS, exceptions) stand between a request and its handler; for a
small REST read or a paid call they cost more than the work itself (measured when the
app was FastAPI, see bench/README.md). This ASGI front answers two kinds of request
itself, and hands everything else — browsers (an Origin header: CORS), site hosts,
every other route — to the full app:

* `GET /rest/v1/:table`, through `rest_read.read` as the app's route does, answered
  with two plain ASGI messages;
* `POST` on a paid route with a fixed path (`/v1/message`, `/v1/projects`,
  `/v1/deployments`): the handler is looked up in the routers once, in the order the
  full app matches them, so the front calls what the full app would have called.

An `ApiError` becomes the same JSON answer as in the full app, and so does any other
exception (a JSON 500, its traceback logged).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from . import api_sites, rest_read
from .context import Sandbox, bearer_token
from .errors import ApiError, error_response, internal_error
from .routing import Router

__all__ = ["FastPath", "DIRECT_POSTS"]

_PREFIX = "/rest/v1/"

_log = logging.getLogger("appwright.sandbox")

DIRECT_POSTS: tuple[str, ...] = ("/v1/message", "/v1/projects", "/v1/deployments")
"""Paid routes served by the front: fixed paths whose handler takes only the request."""

Handler = Callable[[Request], Awaitable[Response]]


class FastPath:
    """An ASGI app in front of the sandbox app."""

    def __init__(self, app: ASGIApp, routers: Sequence[Router]) -> None:
        self.app = app
        self._posts = direct_handlers(routers, DIRECT_POSTS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            table = _plain_read(scope)
            if table is not None and _server_side(headers := _headers(scope)):
                await _read(self.app.state.sandbox, table, headers, scope, receive, send)  # type: ignore[attr-defined]
                return
        handler = self._handler(scope)
        if handler is None:
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app  # what `sandbox_of(request)` reads the state from
        try:
            response = await handler(Request(scope, receive))
        except ApiError as error:
            response = error_response(error)
        except Exception as exc:
            response = error_response(_fault(exc))
        await response(scope, receive, send)

    def _handler(self, scope: Scope) -> Handler | None:
        if scope["type"] != "http":
            return None
        handler = self._posts.get(scope["path"]) if scope["method"] == "POST" else None
        if handler is None or not _server_side(_headers(scope)):
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


async def _read(
    sandbox: Sandbox, table: str, headers: dict[bytes, str], scope: Scope, receive: Receive, send: Send,
) -> None:
    """A REST read answered with two ASGI messages: no Request or Response objects."""
    try:
        answer = await rest_read.read(
            sandbox, table=table, query_string=scope["query_string"], token=bearer_token(headers.get(b"authorization")),
            apikey=headers.get(b"apikey"), prefer=headers.get(b"prefer"),
        )
    except ApiError as error:
        await error_response(error)(scope, receive, send)
        return
    except Exception as exc:
        await error_response(_fault(exc))(scope, receive, send)
        return
    body = answer.body.encode()
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-length", str(len(body)).encode()), (b"content-type", b"application/json"),
        (b"content-range", answer.content_range.encode()),
    ]})
    await send({"type": "http.response.body", "body": body})


def _fault(exc: Exception) -> ApiError:
    # As the full app does (errors.internal_error_handler): a JSON 500, the traceback in the log.
    _log.error("Exception in the fast path", exc_info=exc)
    return internal_error(exc)


def _headers(scope: Scope) -> dict[bytes, str]:
    # Those the front looks at, in one pass; a repeated header counts once, as Starlette's `get` does.
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _FRONT_HEADERS and name not in found:
            found[name] = value.decode("latin-1")
    return found


_FRONT_HEADERS = frozenset((b"authorization", b"apikey", b"prefer", b"origin", b"host"))


def _server_side(headers: dict[bytes, str]) -> bool:
    # A browser (Origin: CORS headers) or a site host goes through the full app.
    return b"origin" not in headers and api_sites.site_of_host(headers.get(b"host", "")) is None


def _plain_read(scope: Scope) -> str | None:
    if not scope["path"].startswith(_PREFIX):
        return None
    table = scope["path"][len(_PREFIX):]
    if not table or "/" in table or "%" in scope.get("raw_path", b"").decode("latin-1"):
        return None
    return table
