"""Where Run402 calls go: the API base URL, and one table of routes.

The base comes from, in order: an explicit value (`--api`), `$APPWRIGHT_API`,
`$RUN402_API_BASE` (what the hosted `run402` CLI reads), else the local sandbox
`http://127.0.0.1:8402`. `resolve_api` says which one won, so a message can tell the
user where a wrong base came from.

Every route the client calls is a row of `SEED_ROUTES`: route name → method and path
template. The seed documents describe this dialect (`/v1/projects`, `/admin/v1/...`);
the hosted service has since moved some paths (`/projects/v1/...`), so a second
dialect is one more table of the same names passed as `Run402(routes=...)`.
"""

from __future__ import annotations

import ipaddress
import os
import string
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal
from urllib.parse import quote, urlsplit

from .run402_errors import InvalidApiBase

__all__ = [
    "API_ENV_VARS",
    "DEFAULT_API",
    "HOSTED_API",
    "SEED_ROUTES",
    "ApiBase",
    "Route",
    "RouteName",
    "Routes",
    "docs_site_for",
    "resolve_api",
]

DEFAULT_API: Final = "http://127.0.0.1:8402"
"""The local sandbox (`appwright sandbox`), the base when nothing else is named."""
HOSTED_API: Final = "https://api.run402.com"
"""The hosted service's API base."""
API_ENV_VARS: Final = ("APPWRIGHT_API", "RUN402_API_BASE")
"""Environment variables naming the API base, first wins."""
# Hosts that serve the hosted service's docs site, never its API.
_DOCS_HOSTS: Final = {"run402.com": HOSTED_API, "www.run402.com": HOSTED_API}


@dataclass(frozen=True, kw_only=True)
class ApiBase:
    """The API base URL in use, and where it was taken from."""

    url: str
    """Scheme, host, port and optional path prefix, without a trailing slash."""
    source: str
    """`--api`, `APPWRIGHT_API`, `RUN402_API_BASE` or `default`."""

    @property
    def is_local(self) -> bool:
        """Whether the base is on this machine (where a sandbox would run)."""
        host = urlsplit(self.url).hostname or ""
        if host == "localhost" or host.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def resolve_api(explicit: str | None) -> ApiBase:
    """The API base: `explicit`, then `$APPWRIGHT_API`, `$RUN402_API_BASE`, the sandbox.

    Raises `InvalidApiBase` for a value that is not an http(s) URL, or that names the
    hosted docs site (whose answer to any POST is a 405), with the right base to use.
    """
    if explicit is not None and explicit.strip():
        return ApiBase(url=_normalize(explicit, source="--api"), source="--api")
    for name in API_ENV_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return ApiBase(url=_normalize(value, source=name), source=name)
    return ApiBase(url=DEFAULT_API, source="default")


def docs_site_for(url: str) -> str | None:
    """The API base to use when `url` is a known docs site (run402.com), else None."""
    return _DOCS_HOSTS.get((urlsplit(url).hostname or "").lower())


def _normalize(value: str, *, source: str) -> str:
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    where = f"the API base {url!r} (from {source})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidApiBase(
            f"{where} is not an http(s) URL; write it in full, e.g. {HOSTED_API} "
            f"or {DEFAULT_API} for the local sandbox"
        )
    if parts.query or parts.fragment:
        raise InvalidApiBase(f"{where} has a query or fragment; give only scheme, host and port")
    right = docs_site_for(url)
    if right is not None:
        raise InvalidApiBase(
            f"{url} is the docs site, not the API (it answers POSTs with 405); "
            f"the API base is {right}"
        )
    return url


# --- routes ---------------------------------------------------------------------------

RouteName = Literal[
    "quote", "create_project", "renew", "delete_project",
    "sql", "schema", "rls",
    "rest_select", "rest_insert", "rest_update", "rest_delete",
    "auth_signup", "auth_token", "auth_user", "auth_logout",
    "deploy_site", "subdomain_claim", "subdomain_lookup", "subdomain_list", "subdomain_release",
    "send_message", "messages", "billing_account", "billing_history", "faucet",
    "storage_upload", "storage_download", "storage_delete", "storage_list", "storage_sign",
    "storage_signed_download", "generate_image", "usage",
    "function_deploy", "function_list", "function_delete", "function_invoke", "function_invoke_get",
    "secret_set", "secret_list", "secret_delete",
    "deploy_bundle", "publish", "app_version", "versions", "fork",
]  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Route:
    """One route of a dialect: how to reach it and how it behaves."""

    method: Literal["GET", "POST", "PATCH", "DELETE"]
    """The HTTP method."""
    path: str
    """Path template; `{name}` fields are filled, percent-encoded, by `url_path`."""
    paid: bool = False
    """Answered with a 402 until paid with x402 (sent through the paying transport)."""
    waits_for_schema: bool = False
    """Served from a schema that may lag a CREATE TABLE: a `table_not_found` is retried."""
    raw: bool = False
    """Answered with bytes, not JSON, when it succeeds (a storage download)."""
    segments: frozenset[str] = frozenset()
    """Fields whose value is a path of several segments (an object path): each segment is
    encoded on its own, the slashes between them kept."""

    def url_path(self, params: Mapping[str, str]) -> str:
        """The path with its fields filled; every value is encoded as one path segment
        (or, for a field in `segments`, as segments none of which is empty, `.` or `..`)."""
        names = {field for _, field, _, _ in string.Formatter().parse(self.path) if field}
        missing = names - params.keys()
        if missing:
            raise ValueError(f"route {self.path} needs {', '.join(sorted(missing))}")
        # safe="" encodes "/" too: a table or name can never climb to another route.
        return self.path.format(**{
            name: _segments(str(params[name])) if name in self.segments else quote(str(params[name]), safe="")
            for name in names
        })


def _segments(value: str) -> str:
    parts = value.split("/")
    if any(part in ("", ".", "..") for part in parts):
        # An HTTP client folds "a/../b" to "b" before sending: refuse rather than reach another object.
        raise ValueError(f"{value!r} is not a relative path of named segments (no '', '.' or '..')")
    return "/".join(quote(part, safe="") for part in parts)


Routes = Mapping[RouteName, Route]
"""A dialect: every route name mapped to its route."""

_PATH: Final = frozenset({"path"})

SEED_ROUTES: Final[Routes] = MappingProxyType({
    "quote": Route(method="POST", path="/v1/projects/quote"),
    "create_project": Route(method="POST", path="/v1/projects/create/{tier}", paid=True),
    "renew": Route(method="POST", path="/v1/projects/{project_id}/renew", paid=True),
    "delete_project": Route(method="DELETE", path="/v1/projects/{project_id}"),
    "sql": Route(method="POST", path="/admin/v1/projects/{project_id}/sql"),
    "schema": Route(method="GET", path="/admin/v1/projects/{project_id}/schema"),
    "rls": Route(method="POST", path="/admin/v1/projects/{project_id}/rls"),
    "rest_select": Route(method="GET", path="/rest/v1/{table}", waits_for_schema=True),
    "rest_insert": Route(method="POST", path="/rest/v1/{table}", waits_for_schema=True),
    "rest_update": Route(method="PATCH", path="/rest/v1/{table}", waits_for_schema=True),
    "rest_delete": Route(method="DELETE", path="/rest/v1/{table}", waits_for_schema=True),
    "auth_signup": Route(method="POST", path="/auth/v1/signup"),
    "auth_token": Route(method="POST", path="/auth/v1/token"),
    "auth_user": Route(method="GET", path="/auth/v1/user"),
    "auth_logout": Route(method="POST", path="/auth/v1/logout"),
    "deploy_site": Route(method="POST", path="/v1/deployments", paid=True),
    "subdomain_claim": Route(method="POST", path="/v1/subdomains"),
    "subdomain_lookup": Route(method="GET", path="/v1/subdomains/{name}"),
    "subdomain_list": Route(method="GET", path="/v1/subdomains"),
    "subdomain_release": Route(method="DELETE", path="/v1/subdomains/{name}"),
    "send_message": Route(method="POST", path="/v1/message", paid=True),
    "messages": Route(method="GET", path="/v1/messages"),
    "billing_account": Route(method="GET", path="/v1/billing/accounts/{wallet}"),
    "billing_history": Route(method="GET", path="/v1/billing/accounts/{wallet}/history"),
    "faucet": Route(method="POST", path="/v1/faucet"),
    "storage_upload": Route(method="POST", path="/storage/v1/object/{bucket}/{path}", segments=_PATH),
    "storage_download": Route(method="GET", path="/storage/v1/object/{bucket}/{path}", segments=_PATH, raw=True),
    "storage_delete": Route(method="DELETE", path="/storage/v1/object/{bucket}/{path}", segments=_PATH),
    "storage_list": Route(method="GET", path="/storage/v1/object/list/{bucket}"),
    "storage_sign": Route(method="POST", path="/storage/v1/object/sign/{bucket}/{path}", segments=_PATH),
    "storage_signed_download": Route(
        method="GET", path="/storage/v1/object/sign/{bucket}/{path}", segments=_PATH, raw=True),
    "generate_image": Route(method="POST", path="/v1/generate-image", paid=True),
    "usage": Route(method="GET", path="/admin/v1/projects/{project_id}/usage"),
    "function_deploy": Route(method="POST", path="/admin/v1/projects/{project_id}/functions"),
    "function_list": Route(method="GET", path="/admin/v1/projects/{project_id}/functions"),
    "function_delete": Route(method="DELETE", path="/admin/v1/projects/{project_id}/functions/{name}"),
    "function_invoke": Route(method="POST", path="/functions/v1/{name}", raw=True),
    "function_invoke_get": Route(method="GET", path="/functions/v1/{name}", raw=True),
    "secret_set": Route(method="POST", path="/admin/v1/projects/{project_id}/secrets"),
    "secret_list": Route(method="GET", path="/admin/v1/projects/{project_id}/secrets"),
    "secret_delete": Route(method="DELETE", path="/admin/v1/projects/{project_id}/secrets/{key}"),
    "deploy_bundle": Route(method="POST", path="/v1/deploy/{tier}", paid=True),
    "publish": Route(method="POST", path="/admin/v1/projects/{project_id}/publish"),
    "app_version": Route(method="GET", path="/v1/apps/{version_id}"),
    "versions": Route(method="GET", path="/admin/v1/projects/{project_id}/versions"),
    "fork": Route(method="POST", path="/v1/fork/{tier}", paid=True),
})  # fmt: skip
"""The API as the seed documents describe it, and as the sandbox serves it."""
