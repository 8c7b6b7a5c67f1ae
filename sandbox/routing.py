"""Routes declared with decorators, for the sandbox's plain Starlette app.

A route module declares its handlers as

    router = Router()

    @router.get("/v1/things/{name}")
    async def thing(request: Request, name: str) -> Response: ...

and the app takes `router.routes`: Starlette `Route`s whose endpoint calls the handler
with the request (when it asks for one) and the path parameters as keyword arguments.
That is all the sandbox used of FastAPI; the rest (pydantic validation, OpenAPI,
dependency injection) cost ~0.2 s of imports at every start.

Path parameters arrive as Starlette matched them: strings, unless the path declares a
convertor (`{n:int}`), in which case a value that does not convert matches no route and
is answered 404 `route_not_found` rather than reaching the handler.

A handler returns a Starlette `Response`, or anything JSON-able, sent as a 200 JSON answer.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, compile_path

__all__ = ["Handler", "HandlerRoute", "Router"]

Handler = Callable[..., Awaitable[Any]]
"""An async handler: `request` (optional) and the path parameters, by name."""

H = TypeVar("H", bound=Handler)


class HandlerRoute(Route):
    """A Starlette route that keeps the handler it calls (the fast path looks it up)."""

    def __init__(self, path: str, handler: Handler, *, methods: Sequence[str]) -> None:
        _check_parameters(path, handler)
        super().__init__(path, _endpoint(handler), methods=list(methods), name=handler.__name__)
        self.handler = handler


class Router:
    """Collects routes, in declaration order (the order the app matches them)."""

    def __init__(self) -> None:
        self.routes: list[HandlerRoute] = []

    def api_route(self, path: str, *, methods: Sequence[str]) -> Callable[[H], H]:
        """Route `methods` on `path` to the decorated handler, which is returned as is."""

        def register(handler: H) -> H:
            self.routes.append(HandlerRoute(path, handler, methods=methods))
            return handler

        return register

    def get(self, path: str) -> Callable[[H], H]:
        """GET (and, as Starlette does for GET, HEAD)."""
        return self.api_route(path, methods=["GET"])

    def post(self, path: str) -> Callable[[H], H]:
        """POST."""
        return self.api_route(path, methods=["POST"])

    def put(self, path: str) -> Callable[[H], H]:
        """PUT."""
        return self.api_route(path, methods=["PUT"])

    def patch(self, path: str) -> Callable[[H], H]:
        """PATCH."""
        return self.api_route(path, methods=["PATCH"])

    def delete(self, path: str) -> Callable[[H], H]:
        """DELETE."""
        return self.api_route(path, methods=["DELETE"])


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint (`request -> response`) that calls `handler`."""
    takes_request = "request" in inspect.signature(handler).parameters

    async def endpoint(request: Request) -> Response:
        params = request.path_params
        answer = await (handler(request, **params) if takes_request else handler(**params))
        return answer if isinstance(answer, Response) else JSONResponse(answer)

    return endpoint


def _check_parameters(path: str, handler: Handler) -> None:
    """Refuse, at import, a handler whose parameters the path cannot fill.

    FastAPI would have read such a parameter from the query string or the body; here it
    would fail on every request, so it is a declaration error.
    """
    _, _, convertors = compile_path(path)
    parameters = inspect.signature(handler).parameters
    unfilled = [
        name for name, parameter in parameters.items()
        if name != "request" and name not in convertors and parameter.default is inspect.Parameter.empty
    ]
    unused = [name for name in convertors if name not in parameters]
    if unfilled or unused:
        raise TypeError(
            f"{handler.__qualname__} for {path}: parameters not in the path {unfilled}, "
            f"path parameters it does not take {unused}"
        )
