"""Errors the sandbox answers with: JSON bodies with a machine-readable code.

Every error body is `{"error": code, "message": human text, "hint": what to do}`,
so an agent reading the raw answer knows what went wrong and how to fix it.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.responses import JSONResponse

__all__ = ["ApiError", "error_response", "api_error_handler", "http_error_handler", "internal_error", "internal_error_handler"]


class ApiError(Exception):
    """An HTTP error with a code, a message and a hint."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body of the answer."""
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        body.update(self.extra)
        return body


def error_response(error: ApiError) -> JSONResponse:
    """Render an `ApiError` as its JSON answer."""
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette exception handler for `ApiError`."""
    assert isinstance(exc, ApiError)
    return error_response(exc)


def internal_error(exc: BaseException) -> ApiError:
    """The answer to a fault of the sandbox itself: a 500 in the sandbox's shape."""
    return ApiError(500, "internal_error", f"the sandbox failed while answering this request ({type(exc).__name__})",
                    hint="the request may be fine: retry it once; if it fails again, the traceback is in the "
                         "sandbox's log")


async def internal_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's handler for any other exception: JSON, not its plain-text 500.

    Starlette still raises the exception after this answer, so the server logs its traceback.
    """
    return error_response(internal_error(exc))


_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
"""How an Allow header lists methods (Starlette keeps them in a set: any order)."""


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette exception handler for its own `HTTPException`s, in the sandbox's shape.

    The router raises them for an unknown route (404) and a method the route does not
    take (405, with its Allow header); an agent gets a code and a hint for these too.
    """
    assert isinstance(exc, HTTPException)
    return error_response(_routing_error(request, exc))


def _routing_error(request: Request, exc: HTTPException) -> ApiError:
    method, path = request.method, request.url.path
    if exc.status_code == 404:
        return ApiError(404, "route_not_found", f"no route {method} {path}",
                        hint="check the method and the path (and the API base): e.g. POST /v1/projects, "
                             "GET /rest/v1/:table, POST /admin/v1/projects/:id/sql")
    if exc.status_code == 405:
        first_route = (exc.headers or {}).get("Allow", "").split(",")  # Starlette's own, the fallback
        allowed = _allowed(_path_methods(request) or {m.strip() for m in first_route if m.strip()})
        return ApiError(405, "method_not_allowed", f"{path} takes {allowed}, not {method}",
                        hint=f"send {' or '.join(allowed.split(', '))}", headers={"Allow": allowed})
    return ApiError(exc.status_code, "http_error", exc.detail, headers=dict(exc.headers or {}))


def _path_methods(request: Request) -> set[str]:
    # Starlette's Allow names the one route that matched the path first; the same path
    # template may have more routes (GET, POST, PATCH and DELETE /rest/v1/:table).
    routes = [route for route in getattr(request.app, "routes", ()) if isinstance(route, Route)]
    first = next((route for route in routes if route.matches(request.scope)[0] is Match.PARTIAL), None)
    if first is None:
        return set()
    return {method for route in routes if route.path == first.path for method in route.methods or ()}


def _allowed(methods: set[str]) -> str:
    rank = {method: index for index, method in enumerate(_METHOD_ORDER)}
    return ", ".join(sorted(methods, key=lambda m: (rank.get(m, len(rank)), m)))
