"""Storage routes (`apikey`): upload, download, delete, list a bucket, signed URLs.

Any key of a project (anon, service, a user's access token) reaches that project's
objects and no other's, as the seed's examples upload with the anon key. Uploads and
deletes are writes (refused while a lease is read-only); reads, lists and signing are
not. A signed URL needs no key: its token names the project and the object.
"""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import storage
from .bodies import read_body
from .context import api_caller, json_body, sandbox_of
from .db import own_sql_only
from .errors import ApiError
from .projects import Project
from .routing import Router
from .storage import ObjectName, object_name

router = Router()

_PREFIX = "/storage/v1/object"
_SPLIT_HINT = (f"upload files of at most {storage.MAX_OBJECT_BYTES // 2**20} MiB: split a larger one into parts "
               "(e.g. video.part1, video.part2) and join them after download")


@router.get(_PREFIX + "/list/{bucket}")
async def list_bucket(request: Request, bucket: str) -> JSONResponse:
    """The bucket's objects by path (`?prefix=`, `?limit=` up to 1000, `?offset=`)."""
    storage.check_bucket(bucket)
    _, project = await api_caller(request, write=False)
    prefix = request.query_params.get("prefix", "")
    limit, offset = _int_param(request, "limit", 100, 1, 1000), _int_param(request, "offset", 0, 0, 10**9)
    with own_sql_only():
        rows = await sandbox_of(request).pool.fetch(
            "SELECT path, size, content_type, created_at, updated_at FROM sandbox.storage_objects "
            "WHERE project_id = $1 AND bucket = $2 AND starts_with(path, $3) ORDER BY path LIMIT $4 OFFSET $5",
            project.id, bucket, prefix, limit, offset,
        )
    objects = [
        {"name": r["path"], "size": r["size"], "content_type": r["content_type"],
         "created_at": r["created_at"].isoformat(), "updated_at": r["updated_at"].isoformat()}
        for r in rows
    ]
    return JSONResponse({"bucket": bucket, "objects": objects})


@router.post(_PREFIX + "/sign/{bucket}/{path:path}")
async def sign(request: Request, bucket: str, path: str) -> JSONResponse:
    """A URL that downloads the object without a key, for `expires_in` s (at most 1 h)."""
    name = object_name(bucket, path)
    _, project = await api_caller(request, write=False)
    ttl = _expires_in(await json_body(request))
    await _fetch(request, project.id, name, content=False)
    expires_at = int(time.time()) + ttl
    token = storage.sign(sandbox_of(request).keys.secret, project.id, name, expires_at)
    url = f"{_PREFIX}/sign/{_url_path(name)}?token={token}"
    return JSONResponse({
        "signedURL": url, "signed_url": str(request.base_url).rstrip("/") + url, "expires_in": ttl,
        "expires_at": dt.datetime.fromtimestamp(expires_at, dt.timezone.utc).isoformat(),
    })


@router.get(_PREFIX + "/sign/{bucket}/{path:path}")
async def download_signed(request: Request, bucket: str, path: str) -> Response:
    """The object a signed URL names, while its token is valid."""
    name = object_name(bucket, path)
    token = request.query_params.get("token")
    if not token:
        raise ApiError(403, "invalid_signature", "this signed URL has no token",
                       hint="use the whole signedURL returned by POST /storage/v1/object/sign/...")
    sandbox = sandbox_of(request)
    project_id = storage.check_signature(sandbox.keys.secret, token, name)
    sandbox.limiter.check(project_id)
    project = await sandbox.project(project_id)
    project.check_access(write=False)
    sandbox.usage.count(project)
    return await _download(request, project, name)


@router.post(_PREFIX + "/{bucket}/{path:path}")
async def upload(request: Request, bucket: str, path: str) -> JSONResponse:
    """Store the body as the object (replacing one of that name), any content type."""
    name = object_name(bucket, path)
    _, project = await api_caller(request, write=True)
    # One object over the cap is a 413 here, read no further; over the tier's quota, a 402 below.
    content = await read_body(request, limit=storage.MAX_OBJECT_BYTES, what="a storage object", hint=_SPLIT_HINT)
    kind = request.headers.get("content-type") or "application/octet-stream"
    with own_sql_only():
        async with sandbox_of(request).pool.acquire() as conn:
            used = await storage.put_object(conn, project, name, content, kind)
    return JSONResponse({
        "Key": f"{name.bucket}/{name.path}", "bucket": name.bucket, "path": name.path,
        "size": len(content), "content_type": kind, "storage_used_bytes": used,
    }, status_code=201)


@router.get(_PREFIX + "/{bucket}/{path:path}")
async def download(request: Request, bucket: str, path: str) -> Response:
    """The object's bytes, with the content type it was uploaded with."""
    name = object_name(bucket, path)
    _, project = await api_caller(request, write=False)
    return await _download(request, project, name)


@router.delete(_PREFIX + "/{bucket}/{path:path}")
async def delete(request: Request, bucket: str, path: str) -> JSONResponse:
    """Remove the object; its bytes no longer count toward the quota."""
    name = object_name(bucket, path)
    _, project = await api_caller(request, write=True)
    with own_sql_only():
        size = await sandbox_of(request).pool.fetchval(
            "DELETE FROM sandbox.storage_objects WHERE project_id = $1 AND bucket = $2 AND path = $3 "
            "RETURNING size", project.id, name.bucket, name.path,
        )
    if size is None:
        raise _not_found(name)
    return JSONResponse({"deleted": True, "Key": f"{name.bucket}/{name.path}", "size": size})


# --- helpers --------------------------------------------------------------------------


async def _download(request: Request, project: Project, name: ObjectName) -> Response:
    row = await _fetch(request, project.id, name, content=True)
    # nosniff: an uploaded page is served as the bytes it is, never run as this API's page.
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
    return Response(bytes(row["content"]), media_type=row["content_type"], headers=headers)


async def _fetch(request: Request, project_id: str, name: ObjectName, *, content: bool) -> dict[str, object]:
    columns = "content, content_type" if content else "size"
    with own_sql_only():
        row = await sandbox_of(request).pool.fetchrow(
            f"SELECT {columns} FROM sandbox.storage_objects WHERE project_id = $1 AND bucket = $2 AND path = $3",
            project_id, name.bucket, name.path,
        )
    if row is None:
        raise _not_found(name)
    return dict(row)


def _expires_in(body: dict[str, object]) -> int:
    value = body.get("expires_in", body.get("expiresIn", storage.SIGNED_URL_TTL_S))
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= storage.SIGNED_URL_TTL_S:
        raise ApiError(400, "invalid_expires_in", "expires_in must be a whole number of seconds from 1 to 3600",
                       hint="leave it out for the default of one hour")
    return value


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, f"invalid_{name}", f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def _url_path(name: ObjectName) -> str:
    return quote(name.bucket, safe="") + "/" + "/".join(quote(s, safe="") for s in name.path.split("/"))


def _not_found(name: ObjectName) -> ApiError:
    return ApiError(404, "object_not_found", f"no object {name.path!r} in bucket {name.bucket!r}",
                    hint=f"list the bucket: GET /storage/v1/object/list/{name.bucket}")
