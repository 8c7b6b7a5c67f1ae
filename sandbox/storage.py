"""Storage objects: names that stay inside their project, the quota, and signed URLs.

Objects live in Postgres, in `sandbox.storage_objects` (bytea, keyed by project,
bucket and path), not as files under the data dir, because:

* an upload's quota check and its write commit in one transaction, serialised per
  project by an advisory lock, so two concurrent uploads can never both slip under
  the quota, and a crash never leaves a file without its row or a row without its file;
* an object name is a key, never a filesystem path: no name can reach another
  project's files or the sandbox's own, whatever the checks below might miss;
* the sandbox may run on a Postgres given by `--database-url`, where the database,
  not the local data dir, is what is kept; site files are stored the same way.

The sandbox serves small apps' uploads (at most 50 MB per object), which Postgres
keeps well. Names are still checked strictly, so that what an agent writes would also
be accepted by the hosted service: `..`, `.`, empty segments (an absolute path),
backslashes, control characters and percent-encoded forms of any of them are a 400.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from urllib.parse import unquote

import asyncpg

from .errors import ApiError
from .projects import Project
from .tiers import get_tier

__all__ = [
    "MAX_OBJECT_BYTES", "SIGNED_URL_TTL_S", "ObjectName", "object_name", "check_bucket",
    "storage_used", "put_object", "sign", "check_signature",
]

MAX_OBJECT_BYTES = 50 * 1024 * 1024
"""The largest object one upload may carry."""
SIGNED_URL_TTL_S = 3600
"""How long a signed URL stays valid, and the longest a caller may ask for."""

_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_RESERVED_BUCKETS = frozenset({"sign", "list", "public", "info", "authenticated"})
_MAX_PATH = 1024


@dataclass(frozen=True, kw_only=True)
class ObjectName:
    """A checked bucket and object path inside one project."""

    bucket: str
    """The bucket: lowercase letters, digits, `.`, `_`, `-`."""
    path: str
    """Segments joined by `/`; none empty, `.` or `..`."""


def check_bucket(bucket: str) -> str:
    """The bucket name, or a 400 saying what a bucket may be called."""
    if not _BUCKET.fullmatch(bucket) or bucket in _RESERVED_BUCKETS or ".." in bucket:
        raise ApiError(
            400, "invalid_bucket", f"{bucket!r} is not a valid bucket name",
            hint="use 1-63 lowercase letters, digits, '.', '_' or '-' (not sign, list or public)",
        )
    return bucket


def object_name(bucket: str, path: str) -> ObjectName:
    """The checked name of an object, or a 400 naming what is wrong with it."""
    check_bucket(bucket)
    if not path:
        raise _bad_path(path, "the object path is empty")
    if len(path) > _MAX_PATH:
        raise _bad_path(path[:40] + "…", f"the object path is longer than {_MAX_PATH} characters")
    for segment in path.split("/"):
        _check_segment(path, segment)
    return ObjectName(bucket=bucket, path=path)


def _check_segment(path: str, segment: str) -> None:
    if not segment:
        raise _bad_path(path, "the object path is absolute or has an empty segment ('//')")
    # Decoded until it stops changing: %2e%2e and %252e%252e are '..' too.
    decoded, previous = segment, None
    while decoded != previous:
        previous, decoded = decoded, unquote(decoded)
    if decoded in (".", "..") or "/" in decoded or "\\" in decoded:
        raise _bad_path(path, "the object path climbs out of its bucket ('..', '.', or an encoded '/')")
    if any(ord(c) < 32 or ord(c) == 127 for c in decoded):
        raise _bad_path(path, "the object path has a control character")


def _bad_path(path: str, why: str) -> ApiError:
    return ApiError(
        400, "invalid_object_path", f"{why}: {path!r}",
        hint="name objects like photos/2024/cat.jpg: relative, no '..', '.', '//' or '\\'",
    )


# --- the quota ------------------------------------------------------------------------


async def storage_used(conn: asyncpg.Connection | asyncpg.Pool, project_id: str) -> int:
    """Bytes the project's objects take."""
    return int(await conn.fetchval(
        "SELECT coalesce(sum(size), 0) FROM sandbox.storage_objects WHERE project_id = $1", project_id,
    ))


async def put_object(
    conn: asyncpg.Connection, project: Project, name: ObjectName, content: bytes, content_type: str,
) -> int:
    """Write (or replace) an object within the tier's storage quota; return the bytes used after."""
    async with conn.transaction():
        # One upload at a time per project: the sum below stays true until the commit.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('storage:' || $1))", project.id)
        used = await storage_used(conn, project.id)
        replaced = await conn.fetchval(
            "SELECT size FROM sandbox.storage_objects WHERE project_id = $1 AND bucket = $2 AND path = $3",
            project.id, name.bucket, name.path,
        ) or 0
        after = used - replaced + len(content)
        _check_quota(project, after, len(content))
        await conn.execute(
            "INSERT INTO sandbox.storage_objects (project_id, bucket, path, content, content_type, size) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (project_id, bucket, path) DO UPDATE SET "
            "content = excluded.content, content_type = excluded.content_type, size = excluded.size, "
            "updated_at = now()",
            project.id, name.bucket, name.path, content, content_type, len(content),
        )
    return after


def _check_quota(project: Project, after: int, size: int) -> None:
    limit = get_tier(project.tier).storage_bytes
    if after > limit:
        raise ApiError(
            402, "quota_exceeded",
            f"project {project.id} would use {after:,} bytes of storage; its {project.tier} tier allows {limit:,}",
            hint="delete objects you no longer need, or create a project on a bigger tier",
            storage_used_bytes=after - size, storage_limit_bytes=limit,
        )


# --- signed URLs ----------------------------------------------------------------------


def sign(secret: str, project_id: str, name: ObjectName, expires_at: int) -> str:
    """A token granting a GET of one object of one project until `expires_at` (unix s)."""
    claims = json.dumps({"p": project_id, "b": name.bucket, "o": name.path, "e": expires_at},
                        separators=(",", ":"), sort_keys=True).encode()
    body = base64.urlsafe_b64encode(claims).decode().rstrip("=")
    return f"{body}.{_mac(secret, body)}"


def check_signature(secret: str, token: str, name: ObjectName) -> str:
    """The project a valid, unexpired token for `name` grants; else a 403 saying why."""
    body, _, mac = token.partition(".")
    if not mac or not hmac.compare_digest(mac, _mac(secret, body)):
        raise ApiError(403, "invalid_signature", "the signed URL's token is not valid",
                       hint="ask for a new one: POST /storage/v1/object/sign/<bucket>/<path>")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    if (claims["b"], claims["o"]) != (name.bucket, name.path):
        raise ApiError(403, "invalid_signature", "the signed URL's token was issued for another object")
    if time.time() >= claims["e"]:
        raise ApiError(403, "signed_url_expired", "the signed URL has expired",
                       hint="ask for a new one: POST /storage/v1/object/sign/<bucket>/<path>")
    return str(claims["p"])


def _mac(secret: str, body: str) -> str:
    digest = hmac.new(secret.encode(), b"storage-url:" + body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
