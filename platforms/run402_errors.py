"""The errors the Run402 client raises, each saying what went wrong and what to do.

Two families reach a caller of `appwright.platforms.run402.Run402`:

* `Run402Error` and its subclasses, defined here: the API answered with an error
  (`ApiError`, `LeaseExpired`, `RateLimited`), the base URL is not the API
  (`InvalidApiBase`, `WrongApiBase`, `ApiUnreachable`), an answer was lost after the
  request was sent (`ResponseLost`), or could not be read (`UnexpectedResponse`), or a
  paid call was made without a wallet (`WalletRequired`), or SQL was refused by the
  platform's rules before it was sent (`SqlRefused`);
* the payment errors of `appwright.platforms.x402pay`, unchanged: `PaymentRefused`
  (`BudgetExceeded`, `CallCapExceeded`, `PaymentTermsRefused`: refused before anything
  was signed) and `PaymentError` (`InsufficientFunds`, `NonceReused`, ...: a 402).

No message built here contains a key, a token or a password: server texts are
scrubbed of the credentials their call carried before they are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = [
    "ApiError",
    "ApiUnreachable",
    "InvalidApiBase",
    "LeaseExpired",
    "RateLimited",
    "ResponseLost",
    "Run402Error",
    "SqlRefused",
    "UnexpectedResponse",
    "WalletRequired",
    "WrongApiBase",
    "api_error",
    "scrub",
]

_PROJECT_ID: Final = re.compile(r"\bprj_[0-9A-Za-z]+\b")
# Anything shaped like a JWT (every Run402 key and access token is one).
_JWT: Final = re.compile(r"eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]+")
_REDACTED: Final = "[redacted]"


class Run402Error(Exception):
    """Base of the errors this client raises itself (payment errors come from x402pay)."""


class InvalidApiBase(Run402Error, ValueError):
    """The API base given (`--api`, `APPWRIGHT_API`, `RUN402_API_BASE`) is not a usable URL."""


class WrongApiBase(Run402Error):
    """The base URL answers, but it is a web site (e.g. the docs site), not the API."""

    def __init__(self, message: str, *, base: str, suggested: str | None) -> None:
        super().__init__(message)
        self.base = base
        """The base URL that was used."""
        self.suggested = suggested
        """The API base to use instead, when it can be told."""


class ApiUnreachable(Run402Error):
    """Nothing answers at the base URL (connection refused, unknown host, timeout)."""

    def __init__(self, message: str, *, base: str) -> None:
        super().__init__(message)
        self.base = base
        """The base URL that was tried."""


class ResponseLost(Run402Error):
    """The request was sent but its answer never arrived: it may have been carried out."""

    def __init__(self, message: str, *, method: str, path: str, idempotency_key: str | None) -> None:
        super().__init__(message)
        self.method = method
        """The HTTP method of the lost call."""
        self.path = path
        """Its path, e.g. `/v1/projects/create/prototype`."""
        self.idempotency_key = idempotency_key
        """The key it was sent with: resend with the same key to get its answer once."""


class UnexpectedResponse(Run402Error):
    """The API answered something this client cannot read (not JSON, wrong shape)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status of the answer."""


class WalletRequired(Run402Error):
    """A paid route was called on a client made without a wallet account."""


class SqlRefused(Run402Error):
    """SQL the platform would refuse, caught before it was sent: nothing reached the backend.

    Its fields mirror the sandbox's answer to the same SQL: `reason` is the code the server
    would give (`blocked_statement`, ..., or `sql_syntax_error`), `statement` the offending
    construct in words, `hint` what to send instead.
    """

    def __init__(
        self, *, reason: str, statement: str | None, hint: str, message: str, position: int | None = None,
    ) -> None:
        super().__init__(f"{message} ({reason}, not sent). Hint: {hint}")
        self.reason = reason
        """Machine-readable: a blocked-list code such as `blocked_statement`, or `sql_syntax_error`."""
        self.statement = statement
        """The refused construct in words, e.g. `CREATE EXTENSION` (None for a syntax error)."""
        self.hint = hint
        """What to do instead, addressed to whoever wrote the SQL."""
        self.message = message
        """What is wrong, e.g. `CREATE EXTENSION is not allowed` or the parser's message."""
        self.position = position
        """For a syntax error: the 1-based character position Postgres reports, if any."""


class ApiError(Run402Error):
    """An error answer of the API: `{"error": code, "message": ..., "hint": ...}`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        hint: str | None = None,
        *,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(_describe(status, code, message, hint))
        self.status = status
        """The HTTP status, e.g. 400."""
        self.code = code
        """The machine-readable code, e.g. `table_not_found`, `sql_error`."""
        self.message = message
        """The server's human text."""
        self.hint = hint
        """What the server suggests doing, if it said."""
        self.details = dict(details or {})
        """The other fields of the error body (e.g. `sqlstate`, `retry_after`, `rule`)."""


class LeaseExpired(ApiError):
    """403 `lease_expired`: the project is read-only or archived until it is renewed."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None, *,
                 details: Mapping[str, Any] | None = None, project_id: str | None = None) -> None:
        super().__init__(status, code, message, _renew_hint(project_id, hint), details=details)
        self.project_id = project_id
        """The project whose lease ended, when known."""


class RateLimited(ApiError):
    """429: too many requests (kept after the client's own bounded waiting), or the faucet's limit."""

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before calling again, as the server said."""
        value = self.details.get("retry_after")
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    @property
    def next_available_at(self) -> str | None:
        """When the call may be made again (ISO 8601), if the server said (the faucet does)."""
        value = self.details.get("next_available_at")
        return value if isinstance(value, str) else None


def api_error(
    status: int, body: Any, *, fallback_message: str, project_id: str | None,
    secrets: Iterable[str] = (), uncoded_hint: str | None = None,
) -> ApiError:
    """The typed error for an error answer whose JSON body is `body`.

    `uncoded_hint` is the hint when the body has no Run402 error code (not the API?).
    """
    data: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    hidden = tuple(secrets)
    code = _text(data.get("error")) or f"http_{status}"
    message = scrub(_text(data.get("message")) or _text(data.get("detail")) or fallback_message, hidden)
    hint = _text(data.get("hint")) or (None if _text(data.get("error")) else uncoded_hint)
    hint = scrub(hint, hidden) if hint else None
    details = {k: _scrub_value(v, hidden) for k, v in data.items() if k not in ("error", "message", "hint")}
    if status == 403 and code == "lease_expired":
        found = project_id or _project_in(message)
        return LeaseExpired(status, code, message, hint, details=details, project_id=found)
    if status == 429:
        return RateLimited(status, code, message, hint, details=details)
    return ApiError(status, code, message, hint, details=details)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without the given secrets and without anything shaped like a JWT."""
    for secret in secrets:
        if secret and len(secret) >= 6:  # a short value (e.g. "1") would mangle the text
            text = text.replace(secret, _REDACTED)
    return _JWT.sub(_REDACTED, text)


def _scrub_value(value: Any, secrets: tuple[str, ...]) -> Any:
    return scrub(value, secrets) if isinstance(value, str) else value


def _describe(status: int, code: str, message: str, hint: str | None) -> str:
    text = f"{message} ({code}, HTTP {status})"
    return f"{text}. Hint: {hint}" if hint else text


def _renew_hint(project_id: str | None, server_hint: str | None) -> str:
    who = project_id or "<project_id>"
    ours = (
        f"renew it with `appwright projects renew {who}` "
        f"(POST /v1/projects/{who}/renew, paid with x402), or create a new project"
    )
    return f"{ours}; server: {server_hint}" if server_hint else ours


def _project_in(message: str) -> str | None:
    found = _PROJECT_ID.search(message)
    return found.group(0) if found else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
