"""Static sites: deploy (x402, $0.05) and serve, by path or by Host header.

`POST /v1/deployments` stores a site's files in `sandbox.deployment_files` inside the
paid transaction: the files, the charge and the idempotent answer commit together.
A deployment is served three ways:

* `GET /sites/<dpl_id>/<path>` on the API's own host;
* Host `dpl-<hex>.sites.localhost[:port]` (what the answer's `url` names; `dpl_<hex>` works too);
* Host `<name>.localhost[:port]`, the deployment a claimed subdomain points to.

Serving is SPA-friendly: `/` and any extension-less path that is not a file get
`index.html`; a missing file with an extension is a 404. Every file is sent with
`Cache-Control: no-cache` and a Content-Type taken from its name.
"""

from __future__ import annotations

import base64
import binascii
import functools
import mimetypes
import secrets
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from . import x402
from .context import Sandbox, json_body, sandbox_of
from .errors import ApiError, error_response
from .paid import Charge, PaidResult, run_paid
from .routing import Router
from .tiers import DEPLOYMENT_PRICE

__all__ = [
    "router", "SiteHostMiddleware", "SiteFile", "MAX_SITE_BYTES", "MAX_DEPLOY_BODY_BYTES", "RESERVED_SUBDOMAINS",
    "content_type_for", "deployment_body", "site_url", "subdomain_url",
]

router = Router()

MAX_SITE_BYTES = 50 * 1024 * 1024
"""Total decoded size of one deployment's files, as the seed allows."""
MAX_FILES = 10_000
MAX_PATH_CHARS = 1024
MAX_DEPLOY_BODY_BYTES = 100 * 1024 * 1024
"""The body of a deployment or a bundle deploy: the site's 50 MB grow by a third as base64
(67 MB); the rest is room for JSON escaping, and a bundle's migrations, secrets and functions."""
RESERVED_SUBDOMAINS = frozenset({"api", "www", "admin", "sites", "mail", "ftp", "cdn", "static"})
"""Names no project may claim; their hosts reach the API."""

_TYPES = {
    ".html": "text/html", ".htm": "text/html", ".js": "application/javascript",
    ".mjs": "application/javascript", ".css": "text/css", ".svg": "image/svg+xml",
    ".json": "application/json", ".map": "application/json", ".wasm": "application/wasm",
    ".webmanifest": "application/manifest+json", ".txt": "text/plain", ".ico": "image/x-icon",
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".avif": "image/avif", ".woff": "font/woff", ".woff2": "font/woff2",
    ".ttf": "font/ttf", ".otf": "font/otf", ".xml": "application/xml", ".pdf": "application/pdf",
    ".mp4": "video/mp4", ".webm": "video/webm", ".mp3": "audio/mpeg", ".md": "text/markdown",
}
_TEXTUAL = ("text/", "application/javascript", "application/json", "application/manifest+json",
            "application/xml", "image/svg+xml")
_SITE_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True, kw_only=True)
class SiteFile:
    """One decoded file of a deployment."""

    path: str
    """Relative POSIX path, e.g. `assets/app.js`."""
    content: bytes
    content_type: str


@dataclass(frozen=True, kw_only=True)
class _DeploymentRequest:
    name: str
    project_id: str
    files: list[SiteFile]


# --- URLs -----------------------------------------------------------------------------


def _origin_of(request: Request, host: str) -> str:
    port = request.url.port
    return f"{request.url.scheme}://{host}{f':{port}' if port else ''}/"


def site_url(request: Request, deployment_id: str) -> str:
    """`http://dpl-<hex>.sites.localhost:<port>/`, the port being the request's.

    The host spells the id with a hyphen: an underscore is not valid in a host name,
    and strict clients refuse it (both spellings are served).
    """
    return _origin_of(request, f"{deployment_id.replace('_', '-')}.sites.localhost")


def subdomain_url(request: Request, name: str) -> str:
    """`http://<name>.localhost:<port>/`, the port being the request's."""
    return _origin_of(request, f"{name}.localhost")


# --- deploying ------------------------------------------------------------------------


@router.post("/v1/deployments")
async def create_deployment(request: Request) -> Response:
    """Deploy a static site to a project (x402, $0.05)."""
    sandbox = sandbox_of(request)
    spec = _parse_deployment(await deployment_body(request))
    project = await sandbox.project(spec.project_id)
    project.check_access(write=True)

    async def work(conn: asyncpg.Connection, payment: x402.VerifiedPayment) -> PaidResult:
        deployment_id = await _store_deployment(conn, spec)
        return PaidResult(body=_deployment_json(request, deployment_id, spec), status=201,
                          project_id=spec.project_id)

    charge = Charge(amount_micros=DEPLOYMENT_PRICE, description=f"site deployment {spec.name}")
    return await run_paid(request, sandbox.pool, charge, work, network=sandbox.network)


async def deployment_body(request: Request) -> dict[str, Any]:
    """The JSON body of a deployment or a bundle deploy; one over `MAX_DEPLOY_BODY_BYTES` is a 413."""
    return await json_body(request, limit=MAX_DEPLOY_BODY_BYTES, what="a deployment's body",
                           hint=f"a site may hold at most {MAX_SITE_BYTES // (1024 * 1024)} MB of files: "
                                "leave large media out of the site and upload it to storage")


def _parse_deployment(body: dict[str, Any]) -> _DeploymentRequest:
    project_id = body.get("project", body.get("project_id"))
    if not isinstance(project_id, str) or not project_id:
        raise ApiError(400, "missing_project", "project is required",
                       hint='send {"name": ..., "project": "prj_...", "files": [...]}')
    name = body.get("name", "site")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ApiError(400, "invalid_name", "name must be a non-empty string of at most 200 characters")
    files = _parse_files(body.get("files", body.get("site")))
    return _DeploymentRequest(name=name.strip(), project_id=project_id, files=files)


def _parse_files(value: Any) -> list[SiteFile]:
    if not isinstance(value, list) or not value:
        raise ApiError(400, "missing_files", "files must be a non-empty list",
                       hint='send "files": [{"file": "index.html", "data": "<!DOCTYPE html>..."}]')
    if len(value) > MAX_FILES:
        raise ApiError(400, "too_many_files", f"{len(value)} files; at most {MAX_FILES} are allowed")
    files = [_parse_file(index, item) for index, item in enumerate(value)]
    _check_site(files)
    return files


def _parse_file(index: int, item: Any) -> SiteFile:
    if not isinstance(item, dict):
        raise ApiError(400, "invalid_file", f"files[{index}] must be an object with file and data")
    path = _valid_path(index, item.get("file"))
    data, encoding = item.get("data"), item.get("encoding", "utf-8")
    if not isinstance(data, str):
        raise ApiError(400, "invalid_file", f"files[{index}] ({path}): data must be a string",
                       hint='binary files: base64 in data with "encoding": "base64"')
    return SiteFile(path=path, content=_decode(index, path, data, encoding),
                    content_type=content_type_for(path))


def _valid_path(index: int, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ApiError(400, "invalid_path", f"files[{index}]: file must be a non-empty path string")
    where = f"files[{index}] {value!r}"
    if "\x00" in value or "\\" in value:
        raise ApiError(400, "invalid_path", f"{where}: NUL bytes and backslashes are not allowed in paths",
                       hint="use forward slashes: assets/app.js")
    if value.startswith("/"):
        raise ApiError(400, "invalid_path", f"{where}: the path must be relative, not absolute",
                       hint="write index.html, not /index.html")
    path = value[2:] if value.startswith("./") else value
    parts = path.split("/")
    if ".." in parts:
        raise ApiError(400, "invalid_path", f"{where}: '..' is not allowed in paths")
    if any(part in ("", ".") for part in parts) or len(path) > MAX_PATH_CHARS:
        raise ApiError(400, "invalid_path", f"{where}: empty or '.' segments, or longer than {MAX_PATH_CHARS}",
                       hint="write paths like assets/app.js")
    return path


def _decode(index: int, path: str, data: str, encoding: Any) -> bytes:
    if encoding in ("utf-8", "utf8", None):
        try:
            return data.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(400, "invalid_text", f"files[{index}] ({path}): data is not valid Unicode text",
                           hint='send binary files base64-encoded with "encoding": "base64"') from None
    if encoding != "base64":
        raise ApiError(400, "invalid_encoding", f"files[{index}] ({path}): unknown encoding {encoding!r}",
                       hint='use "utf-8" (the default) or "base64"')
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_base64", f"files[{index}] ({path}): data is not valid base64",
                       hint="encode binary files with standard base64 (A-Z a-z 0-9 + /, = padding)") from None


def _check_site(files: list[SiteFile]) -> None:
    seen: set[str] = set()
    for site_file in files:
        if site_file.path in seen:
            raise ApiError(400, "duplicate_file", f"{site_file.path} appears more than once in files")
        seen.add(site_file.path)
    total = sum(len(f.content) for f in files)
    if total > MAX_SITE_BYTES:
        raise ApiError(413, "site_too_large", f"the files total {total} bytes; at most {MAX_SITE_BYTES} are allowed",
                       hint="remove large assets or compress them")
    if "index.html" not in seen:
        raise ApiError(400, "missing_index_html", "the site has no index.html at its root",
                       hint='add {"file": "index.html", "data": "..."}: it is served for / and for SPA routes')


def content_type_for(path: str) -> str:
    """The Content-Type a file is served with, from its name."""
    suffix = PurePosixPath(path).suffix.lower()
    kind = _TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith(_TEXTUAL) else kind


async def _store_deployment(conn: asyncpg.Connection, spec: _DeploymentRequest) -> str:
    deployment_id = "dpl_" + secrets.token_hex(8)
    await conn.execute(
        "INSERT INTO sandbox.deployments (id, project_id, name) VALUES ($1, $2, $3)",
        deployment_id, spec.project_id, spec.name,
    )
    await conn.copy_records_to_table(
        "deployment_files", schema_name="sandbox",
        columns=["deployment_id", "path", "content", "content_type"],
        records=[(deployment_id, f.path, f.content, f.content_type) for f in spec.files],
    )
    return deployment_id


def _deployment_json(request: Request, deployment_id: str, spec: _DeploymentRequest) -> dict[str, Any]:
    return {
        "deployment_id": deployment_id,
        "name": spec.name,
        "project_id": spec.project_id,
        "url": site_url(request, deployment_id),
        "path_url": f"{request.url.scheme}://{request.url.netloc}/sites/{deployment_id}/",
        "files": len(spec.files),
        "bytes": sum(len(f.content) for f in spec.files),
    }


# --- serving --------------------------------------------------------------------------


@router.api_route("/sites/{deployment_id}", methods=["GET", "HEAD"])
async def site_root(deployment_id: str) -> Response:
    """`/sites/<id>` → `/sites/<id>/`, so that relative links resolve inside the site."""
    return RedirectResponse(f"/sites/{deployment_id}/", status_code=308)


@router.api_route("/sites/{deployment_id}/{path:path}", methods=["GET", "HEAD"])
async def site_file(request: Request, deployment_id: str, path: str) -> Response:
    """A file of a deployment, with SPA fallback."""
    return await serve_site(sandbox_of(request), deployment_id, path)


async def serve_site(sandbox: Sandbox, deployment_id: str, path: str) -> Response:
    """The answer for `path` of a deployment: the file, index.html, or a 404."""
    candidates = _candidates(path.lstrip("/"))
    row = await sandbox.pool.fetchrow(
        "SELECT d.project_id, f.path, f.content, f.content_type FROM sandbox.deployments d "
        "LEFT JOIN sandbox.deployment_files f ON f.deployment_id = d.id AND f.path = ANY($2::text[]) "
        "WHERE d.id = $1 ORDER BY array_position($2::text[], f.path) LIMIT 1",
        deployment_id, candidates,
    )
    if row is None:
        raise ApiError(404, "deployment_not_found", f"no deployment {deployment_id!r} on this server",
                       hint="deploy a site with POST /v1/deployments")
    (await sandbox.project(row["project_id"])).check_access(write=False)
    if row["path"] is None:
        raise ApiError(404, "file_not_found", f"{path!r} is not a file of deployment {deployment_id}",
                       hint="paths without an extension fall back to index.html; files must match exactly")
    return Response(bytes(row["content"]), media_type=row["content_type"], headers=_SITE_HEADERS)


def _candidates(path: str) -> list[str]:
    """Which stored files may answer `path`, best first."""
    if path in ("", "/"):
        return ["index.html"]
    if PurePosixPath(path).suffix:
        return [path]
    folder = path.rstrip("/")
    return [path, f"{folder}/index.html", "index.html"]


# --- Host-based routing ---------------------------------------------------------------


class SiteHostMiddleware:
    """Serve sites by Host header: `<dpl_id>.sites.localhost` and `<name>.localhost`.

    Every other host (127.0.0.1, localhost, reserved names such as api.localhost) goes
    on to the API unchanged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = host_target(scope) if scope["type"] == "http" else None
        if target is None:
            await self.app(scope, receive, send)
            return
        response = await _host_response(scope, *target)
        await response(scope, receive, send)


def host_target(scope: Scope) -> tuple[str, str] | None:
    """("deployment", id) or ("subdomain", name) for a site host; None for the API."""
    return site_of_host(next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), ""))


@functools.lru_cache(maxsize=1024)  # every request asks; a server sees few distinct hosts
def site_of_host(host: str) -> tuple[str, str] | None:
    """("deployment", id) or ("subdomain", name) for a `Host` header's value; None for the API."""
    host = host.lower().rstrip(".")
    if host.startswith("["):
        return None
    host = host.rsplit(":", 1)[0] if ":" in host else host
    if host.endswith(".sites.localhost"):
        label = host[: -len(".sites.localhost")]
        if label and "." not in label:
            return "deployment", ("dpl_" + label[4:]) if label.startswith("dpl-") else label
        return None
    if host.endswith(".localhost"):
        label = host[: -len(".localhost")]
        if label and "." not in label and label not in RESERVED_SUBDOMAINS:
            return "subdomain", label
    return None


async def _host_response(scope: Scope, kind: str, label: str) -> Response:
    if scope["method"] not in ("GET", "HEAD"):
        return error_response(ApiError(405, "method_not_allowed", "sites answer GET and HEAD only",
                                       headers={"Allow": "GET, HEAD"}))
    sandbox: Sandbox = scope["app"].state.sandbox
    try:
        deployment_id = label if kind == "deployment" else await _subdomain_target(sandbox, label)
        return await serve_site(sandbox, deployment_id, scope["path"])
    except ApiError as error:
        return error_response(error)


async def _subdomain_target(sandbox: Sandbox, name: str) -> str:
    deployment_id = await sandbox.pool.fetchval(
        "SELECT deployment_id FROM sandbox.subdomains WHERE name = $1", name,
    )
    if deployment_id is None:
        raise ApiError(404, "subdomain_not_found", f"no site is published at {name}",
                       hint="claim it: POST /v1/subdomains with the service key")
    return str(deployment_id)
