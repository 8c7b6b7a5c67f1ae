"""Sending one Run402 call: build it from the route table, retry it, read its answer.

`Sender.send(Call)` is the one place where the client touches HTTP. Paid routes go
through the x402 paying client (`x402pay.paying_client`), all others through a plain
one, so a REST or admin call can never pay. The answer becomes an `Answer` (JSON data,
receipt, replay flag) or a typed error:

* 402 → the x402pay error from `decode_payment_error` (e.g. `InsufficientFunds`);
* a 405, or an HTML page where JSON was expected → `WrongApiBase` (a web site);
* another error status → `ApiError` / `LeaseExpired` / `RateLimited`;
* nothing listening → `ApiUnreachable`; an answer lost after sending → `ResponseLost`.

Nothing logged here contains a header or a body: only method, path, status, attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, TypeVar

import httpx
from pydantic import ValidationError
from x402.http.clients import httpx as x402_httpx

from .run402_errors import (
    ApiUnreachable,
    ResponseLost,
    UnexpectedResponse,
    WalletRequired,
    WrongApiBase,
    api_error,
    scrub,
)
from .run402_models import Paid, Result, Written
from .run402_paths import DEFAULT_API, ApiBase, Route, RouteName, Routes, docs_site_for
from .run402_retry import Retrier, RetryPolicy
from .x402pay import PaymentReceipt, decode_payment_error, receipt_from_response

__all__ = ["Answer", "Call", "Sender", "parse", "parse_list"]

_log: Final = logging.getLogger("appwright.platforms.run402")
R = TypeVar("R", bound=Result)


@dataclass(frozen=True, kw_only=True)
class Call:
    """One API call, before it is sent. Its repr shows no credential."""

    route: RouteName
    """Which row of the route table."""
    path: Mapping[str, str] = field(default_factory=dict)
    """Values of the path template's fields."""
    params: Sequence[tuple[str, str]] = ()
    """Query parameters, in order (a name may repeat)."""
    json: Any = None
    """A JSON body, or None."""
    content: bytes | None = None
    """A raw body (admin SQL), or None."""
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Headers, credentials included; never logged."""
    idempotency_key: str | None = None
    """Sent as `Idempotency-Key`; makes the call safe to resend."""
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """Credentials and passwords in this call, scrubbed from any error text."""


@dataclass(frozen=True, kw_only=True)
class Answer:
    """A successful answer."""

    status: int
    """The HTTP status."""
    data: Any
    """The decoded JSON body (None for an empty body)."""
    headers: httpx.Headers = field(repr=False)
    """The answer's headers."""
    receipt: PaymentReceipt | None
    """What this call paid, if it was a paid call that went through."""
    replayed: bool
    """The server answered from an earlier call with the same Idempotency-Key."""


class Sender:
    """Sends calls to one API base with one route table, retrying within a policy."""

    def __init__(
        self, *, api: ApiBase, routes: Routes, plain: httpx.AsyncClient,
        paying: httpx.AsyncClient | None, retry: RetryPolicy,
    ) -> None:
        self.api = api
        """The base URL in use."""
        self._routes = routes
        self._plain = plain
        self._paying = paying
        self._retry = retry

    async def send(self, call: Call) -> Answer:
        """Send `call` (retrying as the policy allows) and return its answer, or raise."""
        route = self._routes[call.route]
        if route.paid and self._paying is None:
            raise WalletRequired(
                f"{route.method} {route.path} costs an x402 payment, and this client has no wallet: "
                "pass account= (create one with `appwright wallet create`)"
            )
        response = await self._with_retries(route, call)
        return self._answer(route, call, response)

    async def aclose(self) -> None:
        """Close both HTTP clients."""
        await self._plain.aclose()
        if self._paying is not None:
            await self._paying.aclose()

    # --- sending ----------------------------------------------------------------------

    async def _with_retries(self, route: Route, call: Call) -> httpx.Response:
        resendable = route.method == "GET" or call.idempotency_key is not None
        retrier = Retrier(policy=self._retry, resendable=resendable, waits_for_schema=route.waits_for_schema)
        attempt = 1
        while True:
            try:
                response = await self._once(route, call)
            except httpx.TransportError as error:
                pause = retrier.after_error(error)
                if pause is None:
                    raise self._transport_failure(route, call, error) from None
                what = type(error).__name__
            else:
                _log.debug("%s %s -> %d (attempt %d)", route.method, route.path, response.status_code, attempt)
                pause = retrier.after_response(response)
                if pause is None:
                    return response
                what = f"HTTP {response.status_code}"
            _log.info("%s %s: %s; trying again in %.2f s", route.method, route.path, what, pause)
            await asyncio.sleep(pause)
            attempt += 1

    async def _once(self, route: Route, call: Call) -> httpx.Response:
        client = self._paying if route.paid and self._paying is not None else self._plain
        headers = dict(call.headers)
        if call.idempotency_key is not None:
            headers["Idempotency-Key"] = call.idempotency_key
        request = client.build_request(
            route.method, route.url_path(call.path).lstrip("/"), params=list(call.params),
            json=call.json, content=call.content, headers=headers,
        )
        try:
            return await client.send(request)
        except x402_httpx.PaymentError as error:
            # The x402 transport wraps a connection error of the paid resend in its own
            # catch-all error: unwrap it so it is retried (the call carries a key) and typed.
            if isinstance(error.__cause__, httpx.TransportError):
                raise error.__cause__ from None
            raise

    def _transport_failure(self, route: Route, call: Call, error: httpx.TransportError) -> Exception:
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return ApiUnreachable(_unreachable_message(self.api, error), base=self.api.url)
        key = call.idempotency_key
        again = (
            "resend it with the same idempotency key to get its answer without doing it twice"
            if key else "check whether it took effect before sending it again (it had no Idempotency-Key)"
        )
        return ResponseLost(
            f"{route.method} {route.path}: the connection failed after the request was sent "
            f"({type(error).__name__}), so it may have been carried out; {again}",
            method=route.method, path=route.path, idempotency_key=key,
        )

    # --- reading ----------------------------------------------------------------------

    def _answer(self, route: Route, call: Call, response: httpx.Response) -> Answer:
        if response.status_code == 402:
            raise decode_payment_error(response)
        data = self._decode(route, response)
        if response.status_code >= 400:
            raise api_error(
                response.status_code, data, fallback_message=response.reason_phrase or "error",
                project_id=call.path.get("project_id"), secrets=call.secrets,
                uncoded_hint=(
                    f"{self.api.url} (from {self.api.source}) did not answer like a Run402 API; "
                    f"check the API base: is {route.method} {route.path} one of its routes?"
                ),
            )
        return Answer(
            status=response.status_code, data=data, headers=response.headers,
            receipt=receipt_from_response(response) if route.paid else None,
            replayed=response.headers.get("idempotent-replayed", "").lower() == "true",
        )

    def _decode(self, route: Route, response: httpx.Response) -> Any:
        if response.status_code == 405:
            raise self._web_site(route, f"{route.method} {route.path} was answered 405 Method Not Allowed")
        if route.raw and response.status_code < 400:
            return response.content  # the object's own bytes, whatever they look like
        if not response.content.strip():
            return None
        if _is_html(response):
            raise self._web_site(route, f"{route.method} {route.path} was answered with an HTML page")
        try:
            return response.json()
        except ValueError:
            raise UnexpectedResponse(
                f"{route.method} {route.path} was answered HTTP {response.status_code} with a body "
                f"that is not JSON ({response.headers.get('content-type', 'no content type')})",
                status=response.status_code,
            ) from None

    def _web_site(self, route: Route, evidence: str) -> WrongApiBase:
        right = docs_site_for(self.api.url)
        where = f"{self.api.url} (from {self.api.source})"
        if right is not None:
            text = f"{where} looks like the docs site ({evidence}); the API base is {right}"
        else:
            text = (
                f"{where} looks like a web site, not a Run402 API ({evidence}). "
                f"Pass the API's base with --api or APPWRIGHT_API: {_base_advice(self.api)}"
            )
        return WrongApiBase(text, base=self.api.url, suggested=right)


def parse(model: type[R], answer: Answer, **extra: Any) -> R:
    """`answer` read as `model` (plus `extra` fields); `UnexpectedResponse` if it does not fit.

    Paid results get the answer's receipt, keyed writes its replay flag.
    """
    data = dict(answer.data) if isinstance(answer.data, Mapping) else {}
    data.update(extra)
    if issubclass(model, Written):
        data["replayed"] = answer.replayed
    if issubclass(model, Paid):
        data["receipt"] = answer.receipt
    try:
        return model.model_validate(data)
    except ValidationError as error:
        # Only locations and reasons: the input values may hold keys.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}"
            for e in error.errors(include_input=False, include_url=False)
        )
        raise UnexpectedResponse(
            f"the answer (HTTP {answer.status}) does not read as {model.__name__}: {problems}",
            status=answer.status,
        ) from None


def parse_list(model: type[R], answer: Answer, name: str) -> tuple[R, ...]:
    """The items of the list `answer.data[name]`, each read as `model`."""
    items = answer.data.get(name) if isinstance(answer.data, Mapping) else None
    if not isinstance(items, list):
        raise UnexpectedResponse(
            f"the answer (HTTP {answer.status}) has no list {name!r}", status=answer.status,
        )
    return tuple(parse(model, replace(answer, data=item)) for item in items)


def _is_html(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "").lower()
    return "html" in kind or response.content.lstrip()[:1] == b"<"


def _unreachable_message(api: ApiBase, error: httpx.TransportError) -> str:
    reason = scrub(str(error)) or type(error).__name__
    where = f"{api.url} (from {api.source})"
    if api.is_local:
        return (
            f"nothing answers at {where}: {reason}. Start a sandbox with `appwright sandbox`, "
            "or pass --api (or set APPWRIGHT_API) to use another API"
        )
    return f"nothing answers at {where}: {reason}. Check the address and the network, or pass --api"


def _base_advice(api: ApiBase) -> str:
    if api.is_local:
        return f"the local sandbox is {DEFAULT_API} (`appwright sandbox` prints its base)"
    return "the API usually lives on its own host, e.g. https://api.run402.com for Run402"
