"""A short way in for the hottest route: `GET /rest/v1/:table` from a server-side client.

FastAPI's routing, dependency solving and middleware stack cost more than the query
itself for a small filtered read. This ASGI front answers such a read with the very
handler the full app routes to (`api_rest.select`), and hands everything else —
browsers (an Origin header: CORS), site hosts, every other route — to the full app.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from . import api_rest, api_sites
from .errors import ApiError, error_response

__all__ = ["RestReadFastPath"]

_PREFIX = "/rest/v1/"


class RestReadFastPath:
    """An ASGI app in front of the sandbox app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        table = _plain_read(scope)
        if table is None:
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app  # what `sandbox_of(request)` reads the state from
        try:
            response = await api_rest.select(Request(scope, receive), table)
        except ApiError as error:
            response = error_response(error)
        await response(scope, receive, send)


def _plain_read(scope: Scope) -> str | None:
    if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith(_PREFIX):
        return None
    table = scope["path"][len(_PREFIX):]
    if not table or "/" in table or "%" in scope.get("raw_path", b"").decode("latin-1"):
        return None
    if any(name == b"origin" for name, _ in scope["headers"]) or api_sites.host_target(scope) is not None:
        return None
    return table
