"""The Run402 client's pure parts: API base resolution, the route table, errors, retry rules."""

from __future__ import annotations

import time
import typing

import httpx
import pytest

from appwright.platforms.run402 import (
    DEFAULT_API,
    SEED_ROUTES,
    ApiError,
    InvalidApiBase,
    LeaseExpired,
    ProjectCreated,
    RateLimited,
    RetryPolicy,
    Route,
    Secret,
    Session,
    resolve_api,
)
from appwright.platforms.run402_errors import api_error, scrub
from appwright.platforms.run402_paths import ApiBase, RouteName
from appwright.platforms.run402_retry import Retrier

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJyZWYiOiJwcmpfMSIsInJvbGUiOiJhbm9uIn0.c2lnbmF0dXJlX2hlcmU"


@pytest.fixture(autouse=True)
def _no_api_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("APPWRIGHT_API", "RUN402_API_BASE"):
        monkeypatch.delenv(name, raising=False)


# --- resolve_api ----------------------------------------------------------------------


def test_default_is_the_local_sandbox() -> None:
    assert resolve_api(None) == ApiBase(url=DEFAULT_API, source="default")
    assert DEFAULT_API == "http://127.0.0.1:8402"
    assert resolve_api(None).is_local


def test_explicit_then_appwright_then_run402_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUN402_API_BASE", "https://api.run402.com/")
    assert resolve_api(None) == ApiBase(url="https://api.run402.com", source="RUN402_API_BASE")
    monkeypatch.setenv("APPWRIGHT_API", "http://127.0.0.1:9000")
    assert resolve_api(None) == ApiBase(url="http://127.0.0.1:9000", source="APPWRIGHT_API")
    assert resolve_api("http://localhost:8402/") == ApiBase(url="http://localhost:8402", source="--api")
    assert resolve_api("  ").source == "APPWRIGHT_API"  # a blank --api is no --api


@pytest.mark.parametrize("value", ["api.run402.com", "ftp://x.example", "http://", "http://h/?q=1"])
def test_invalid_bases_are_refused(value: str) -> None:
    with pytest.raises(InvalidApiBase) as caught:
        resolve_api(value)
    assert "https://api.run402.com" in str(caught.value) or "query" in str(caught.value)


@pytest.mark.parametrize("docs", ["http://run402.com", "https://run402.com/", "https://www.run402.com"])
def test_the_docs_site_is_refused_naming_the_api(docs: str) -> None:
    with pytest.raises(InvalidApiBase, match=r"docs site.*the API base is https://api\.run402\.com"):
        resolve_api(docs)


def test_an_env_var_naming_the_docs_site_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPWRIGHT_API", "http://run402.com")
    with pytest.raises(InvalidApiBase, match=r"api\.run402\.com"):
        resolve_api(None)
    monkeypatch.setenv("APPWRIGHT_API", "run402.com")
    with pytest.raises(InvalidApiBase, match="from APPWRIGHT_API"):
        resolve_api(None)


@pytest.mark.parametrize(
    ("url", "local"),
    [("http://127.0.0.1:1", True), ("http://localhost", True), ("http://[::1]:8402", True),
     ("http://x.localhost:8402", True), ("https://api.run402.com", False), ("http://10.0.0.1", False)],
)
def test_is_local(url: str, local: bool) -> None:
    assert ApiBase(url=url, source="--api").is_local is local


# --- the route table ------------------------------------------------------------------


def test_every_route_name_has_a_route() -> None:
    assert set(SEED_ROUTES) == set(typing.get_args(RouteName))
    paid = {name for name, route in SEED_ROUTES.items() if route.paid}
    assert paid == {"create_project", "renew", "deploy_site", "send_message", "generate_image", "deploy_bundle", "fork"}
    assert all(SEED_ROUTES[n].waits_for_schema for n in ("rest_select", "rest_insert", "rest_update", "rest_delete"))


def test_path_fields_are_encoded_as_one_segment() -> None:
    route = Route(method="GET", path="/rest/v1/{table}")
    assert route.url_path({"table": "todos"}) == "/rest/v1/todos"
    assert route.url_path({"table": "../admin/x"}) == "/rest/v1/..%2Fadmin%2Fx"
    assert route.url_path({"table": "my table?x=1"}) == "/rest/v1/my%20table%3Fx%3D1"
    with pytest.raises(ValueError, match="needs table"):
        route.url_path({})


def test_object_paths_keep_their_slashes_and_never_climb() -> None:
    route = SEED_ROUTES["storage_download"]
    assert route.url_path({"bucket": "assets", "path": "a b/c?.png"}) == "/storage/v1/object/assets/a%20b/c%3F.png"
    assert route.url_path({"bucket": "a/b", "path": "x"}) == "/storage/v1/object/a%2Fb/x"
    for bad in ("../x", "a/../b", "/abs", "a//b", "./a", "a/", ""):
        with pytest.raises(ValueError, match="relative path"):
            route.url_path({"bucket": "assets", "path": bad})


# --- secrets --------------------------------------------------------------------------


def test_secret_is_a_str_with_a_hidden_repr() -> None:
    secret = Secret("eyJ-the-key")
    assert secret == "eyJ-the-key" and isinstance(secret, str)
    assert repr(secret) == "***"
    assert "eyJ" not in repr([secret])
    created = ProjectCreated.model_validate({
        "project_id": "prj_1", "name": "n", "tier": "prototype", "anon_key": JWT, "service_key": JWT + "x",
        "schema_slot": "p0001", "lease_expires_at": "2026-01-01T00:00:00Z",
    })
    assert JWT not in repr(created) and JWT not in str(created)
    assert isinstance(created.anon_key, Secret) and created.anon_key == JWT
    assert created.model_dump()["anon_key"] == JWT  # still usable, as a plain str
    session = Session.model_validate({
        "access_token": JWT, "refresh_token": "r" * 40, "expires_in": 3600,
        "user": {"id": "u", "email": "a@b.co", "created_at": "2026-01-01T00:00:00Z"},
    })
    assert JWT not in repr(session) and "r" * 40 not in repr(session)


# --- errors ---------------------------------------------------------------------------


def test_api_error_keeps_the_body_and_scrubs_secrets() -> None:
    body = {"error": "sql_error", "message": f"bad key {JWT} or secretvalue", "hint": "h", "sqlstate": "42P01"}
    error = api_error(400, body, fallback_message="x", project_id=None, secrets=("secretvalue",))
    assert type(error) is ApiError
    assert (error.status, error.code, error.hint, error.details) == (400, "sql_error", "h", {"sqlstate": "42P01"})
    assert JWT not in str(error) and "secretvalue" not in str(error)
    assert str(error) == "bad key [redacted] or [redacted] (sql_error, HTTP 400). Hint: h"


def test_lease_expired_suggests_renewing() -> None:
    body = {"error": "lease_expired", "message": "the lease of project prj_abc123 ended", "hint": "renew"}
    error = api_error(403, body, fallback_message="x", project_id=None)
    assert isinstance(error, LeaseExpired) and error.project_id == "prj_abc123"
    assert "appwright projects renew prj_abc123" in str(error)
    assert "POST /v1/projects/prj_abc123/renew" in str(error)


def test_rate_limited_reads_retry_after() -> None:
    body = {"error": "faucet_rate_limited", "message": "m", "retry_after": 86399,
            "next_available_at": "2026-01-02T00:00:00+00:00"}
    error = api_error(429, body, fallback_message="x", project_id=None)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 86399.0 and error.next_available_at == "2026-01-02T00:00:00+00:00"


def test_a_body_without_an_error_code_gets_a_status_code_and_the_hint() -> None:
    error = api_error(404, {"detail": "Not Found"}, fallback_message="x", project_id=None, uncoded_hint="check --api")
    assert (error.code, error.message, error.hint) == ("http_404", "Not Found", "check --api")


def test_scrub_leaves_short_values_alone() -> None:
    assert scrub("id 1 is 1", ("1",)) == "id 1 is 1"


# --- retry decisions ------------------------------------------------------------------


def _response(status: int, body: object = None, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers or {})


def test_429_waits_what_the_body_says_within_bounds() -> None:
    retrier = Retrier(policy=RetryPolicy(), resendable=False, waits_for_schema=False)
    pauses = [retrier.after_response(_response(429, {"retry_after": 1.0})) for _ in range(4)]
    assert all(p is not None and 1.0 < p < 1.2 for p in pauses[:3])
    assert pauses[3] is None  # four sends in all


def test_429_uses_the_header_and_never_waits_past_the_bound() -> None:
    retrier = Retrier(policy=RetryPolicy(), resendable=True, waits_for_schema=False)
    pause = retrier.after_response(_response(429, headers={"Retry-After": "2"}))
    assert pause is not None and 2.0 < pause < 2.3
    assert retrier.after_response(_response(429, {"retry_after": 86400})) is None


def test_connection_errors_are_resent_only_when_harmless() -> None:
    unsafe = Retrier(policy=RetryPolicy(), resendable=False, waits_for_schema=False)
    assert unsafe.after_error(httpx.ReadError("reset")) is None
    assert unsafe.after_error(httpx.ConnectError("refused")) is not None  # nothing was sent
    safe = Retrier(policy=RetryPolicy(), resendable=True, waits_for_schema=False)
    assert [safe.after_error(httpx.ReadTimeout("t")) is not None for _ in range(3)] == [True, True, False]


def test_5xx_is_resent_only_when_harmless() -> None:
    unsafe = Retrier(policy=RetryPolicy(), resendable=False, waits_for_schema=False)
    assert unsafe.after_response(_response(503, {"error": "x"})) is None
    safe = Retrier(policy=RetryPolicy(), resendable=True, waits_for_schema=False)
    assert safe.after_response(_response(503, {"error": "x"})) is not None
    assert safe.after_response(_response(400, {"error": "x"})) is None


def test_table_not_found_is_waited_for_only_on_rest_routes() -> None:
    missing = _response(404, {"error": "table_not_found"})
    assert Retrier(policy=RetryPolicy(), resendable=True, waits_for_schema=False).after_response(missing) is None
    rest = Retrier(policy=RetryPolicy(table_wait_s=0.2), resendable=False, waits_for_schema=True)
    pauses = []
    while (pause := rest.after_response(missing)) is not None:
        pauses.append(pause)
        time.sleep(pause)
    assert pauses == [0.05, 0.1]  # waited 0.15 s; another 0.2 s would pass the 0.2 s bound
    other = _response(404, {"error": "project_not_found"})
    assert Retrier(policy=RetryPolicy(), resendable=True, waits_for_schema=True).after_response(other) is None
