"""Errors the sandbox answers with: JSON bodies with a machine-readable code.

Every error body is `{"error": code, "message": human text, "hint": what to do}`,
so an agent reading the raw answer knows what went wrong and how to fix it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

__all__ = ["ApiError", "error_response", "api_error_handler"]


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
