"""The errors the AltaTech client raises: one class per error code, each with its meaning.

Every AltaTech answer is `{code, message, data}`; a code other than 0 becomes the class of
`ERRORS` for that code (the seed's table, plus 403106 for a table that does not exist),
keeping the server's message. A request that breaks a rule of `altatech_rules` is refused
by the client before it is sent, with the same class and code and `sent=False`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

__all__ = [
    "ERRORS", "AltaTechError", "ApiError", "ApiUnreachable", "AuthenticationFailed", "ImportTimeout",
    "InternalError", "InvalidFieldName", "InvalidParameters", "InvalidTableName", "RpmLimitExceeded",
    "TableNotFound", "UnexpectedResponse", "UpgradeRequired", "api_error",
]


class AltaTechError(Exception):
    """Base of every error of the AltaTech client."""


class ApiUnreachable(AltaTechError):
    """Nothing answers at the API base."""


class UnexpectedResponse(AltaTechError):
    """The answer is not AltaTech's `{code, message, data}` or its data has the wrong shape."""


class ImportTimeout(AltaTechError):
    """Import tasks were still running when the wait ended."""

    def __init__(self, message: str, *, pending: tuple[str, ...]) -> None:
        super().__init__(message)
        self.pending = pending
        """The ids of the tasks not finished yet."""


class ApiError(AltaTechError):
    """An error code from the API (or a request refused by the client with the same code)."""

    code: ClassVar[int] = 0
    meaning: ClassVar[str] = "error"

    def __init__(self, message: str, *, status: int | None = None, field: str | None = None,
                 sent: bool = True, code: int | None = None) -> None:
        self.code = code if code is not None else type(self).code  # type: ignore[misc]
        where = f"{field}: " if field else ""
        note = "" if sent else " (refused before sending)"
        super().__init__(f"{where}{message} ({self.code} {self.meaning}){note}")
        self.message = message
        """The server's (or the client's) own words."""
        self.status = status
        """The HTTP status, when the server answered."""
        self.field = field
        """The offending field's path, when known (`fields[1].name`)."""
        self.sent = sent
        """False when the client refused the request itself."""


class InvalidParameters(ApiError):
    code = 40000
    meaning = "Invalid parameters"


class RpmLimitExceeded(ApiError):
    code = 40008
    meaning = "Agent RPM request limit exceeded. Please contact the service provider to increase the limit."


class AuthenticationFailed(ApiError):
    code = 40127
    meaning = "Developer authentication failed"


class UpgradeRequired(ApiError):
    code = 40353
    meaning = "This feature is only available after upgrading your plan"


class InvalidTableName(ApiError):
    code = 403100
    meaning = "Invalid table name"


class InvalidFieldName(ApiError):
    code = 403103
    meaning = "Invalid field name"


class TableNotFound(ApiError):
    code = 403106
    meaning = "Table not found"


class InternalError(ApiError):
    code = 50000
    meaning = "Internal system error"


ERRORS: Final[dict[int, type[ApiError]]] = {
    cls.code: cls for cls in (
        InvalidParameters, RpmLimitExceeded, AuthenticationFailed, UpgradeRequired,
        InvalidTableName, InvalidFieldName, TableNotFound, InternalError,
    )
}
"""Error code → class."""


def api_error(body: Any, status: int | None) -> ApiError:
    """The typed error of an answer whose code is not 0."""
    code = body.get("code") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    text = message if isinstance(message, str) and message else f"HTTP {status}"
    cls = ERRORS.get(code) if isinstance(code, int) else None
    if cls is None:
        return ApiError(text, status=status, code=code if isinstance(code, int) else -1)
    return cls(text, status=status)
