"""When the Run402 client sends a call again, and how long it waits first.

Three kinds of answer are worth another try, each within its own bound:

* **429** (rate limited): the server refused before doing anything, so any call may be
  resent, after the `retry_after` the body gives (else the `Retry-After` header). A wait
  that would pass the bound is not waited: the caller gets `RateLimited` at once (the
  faucet's 24 h limit ends up there).
* **404 `table_not_found` on REST**: a table created a moment ago may not be visible
  yet while the hosted service reloads its schema cache; tried again with backoff for
  about two seconds.
* **connection errors and 5xx**: resent only when that cannot do the work twice: a
  GET, a call carrying an Idempotency-Key (the server answers a resend with the stored
  answer), or a connection that failed before the request left (nothing was sent).

Paid calls always carry an Idempotency-Key (the client requires one), so no retry can
ever pay twice.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Final

import httpx

__all__ = ["Retrier", "RetryPolicy"]

_TRANSIENT_STATUSES: Final = frozenset({500, 502, 503, 504})
# Failures before the request left this machine: resending cannot do anything twice.
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """The bounds of the client's retries; the defaults suit both sandbox and hosted API."""

    rate_limit_attempts: int = 4
    """How many times in all a call answered 429 is sent."""
    rate_limit_wait_s: float = 5.0
    """The most time one call spends waiting out 429s."""
    table_wait_s: float = 2.0
    """How long a REST call answered `table_not_found` keeps trying."""
    transient_attempts: int = 3
    """How many times in all a call is sent through connection errors and 5xx."""
    backoff_s: float = 0.05
    """The first pause between tries of the backoff kinds; it doubles each time."""
    max_backoff_s: float = 0.5
    """The longest single backoff pause."""


@dataclass(kw_only=True)
class Retrier:
    """The retry decisions of one call: each answer or error → a pause, or None to stop."""

    policy: RetryPolicy
    """The bounds."""
    resendable: bool
    """Whether a resend is harmless even if the first one was carried out (GET, or keyed)."""
    waits_for_schema: bool
    """Whether `table_not_found` means "not visible yet" on this route."""
    _rate_limited: int = field(default=0, init=False)
    _rate_waited: float = field(default=0.0, init=False)
    _transient: int = field(default=0, init=False)
    _table_since: float | None = field(default=None, init=False)
    _table_tries: int = field(default=0, init=False)

    def after_response(self, response: httpx.Response) -> float | None:
        """The pause before sending again after `response`, or None to keep it."""
        status = response.status_code
        if status == 429:
            return self._after_429(response)
        if status == 404 and self.waits_for_schema and _error_code(response) == "table_not_found":
            return self._after_missing_table()
        if status in _TRANSIENT_STATUSES and self.resendable:
            return self._after_transient()
        return None

    def after_error(self, error: httpx.TransportError) -> float | None:
        """The pause before sending again after a connection error, or None to give up."""
        if not (self.resendable or isinstance(error, _NOT_SENT)):
            return None
        return self._after_transient()

    def _after_429(self, response: httpx.Response) -> float | None:
        self._rate_limited += 1
        wait = _retry_after(response)
        # A little extra and a little jitter: waking exactly at the window's edge can
        # be a hair early, and many callers told the same time should not all return at once.
        wait += 0.02 + random.uniform(0.0, 0.1 * wait)
        if self._rate_limited >= self.policy.rate_limit_attempts:
            return None
        if self._rate_waited + wait > self.policy.rate_limit_wait_s:
            return None
        self._rate_waited += wait
        return wait

    def _after_missing_table(self) -> float | None:
        now = time.monotonic()
        if self._table_since is None:
            self._table_since = now
        pause = self._backoff(self._table_tries)
        if now + pause - self._table_since > self.policy.table_wait_s:
            return None
        self._table_tries += 1
        return pause

    def _after_transient(self) -> float | None:
        self._transient += 1
        if self._transient >= self.policy.transient_attempts:
            return None
        return self._backoff(self._transient - 1)

    def _backoff(self, tries: int) -> float:
        return float(min(self.policy.backoff_s * 2**tries, self.policy.max_backoff_s))


def _retry_after(response: httpx.Response) -> float:
    """Seconds to wait: the body's `retry_after`, else the header's, else one second."""
    body = _json_object(response)
    value = body.get("retry_after")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    header = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(header))
    except ValueError:  # absent, or an HTTP date: not worth parsing for a bounded wait
        return 1.0


def _error_code(response: httpx.Response) -> str | None:
    code = _json_object(response).get("error")
    return code if isinstance(code, str) else None


def _json_object(response: httpx.Response) -> dict[str, object]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
