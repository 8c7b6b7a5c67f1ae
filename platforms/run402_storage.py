"""Storage: `Run402.storage.upload/download/delete/list/sign/download_signed`.

Storage routes take a project key in `apikey` (anon key, service key or a user's
access token), as the seed documents. Objects are named by bucket and a relative
path (`photos/2024/cat.jpg`); a path with an empty, `.` or `..` segment raises
`ValueError` before anything is sent. A signed URL downloads one object without a
key for up to an hour. An upload past the tier's storage quota raises the x402pay
`PaymentError` whose `code` is `quota_exceeded` (a quota 402, not a payment request).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl, unquote, urlsplit

from .run402_http import Call, Sender, parse, parse_list
from .run402_models import Result

__all__ = ["StorageApi", "StoredObject", "ObjectInfo", "ObjectDeleted", "SignedUrl"]


class StoredObject(Result):
    """An uploaded object."""

    bucket: str
    """Its bucket."""
    path: str
    """Its path in the bucket."""
    size: int
    """Its size in bytes."""
    content_type: str
    """The content type it is served with."""
    storage_used_bytes: int
    """Bytes the project's objects take now, this one included."""


class ObjectInfo(Result):
    """One object of a bucket listing."""

    name: str
    """Its path in the bucket."""
    size: int
    """Its size in bytes."""
    content_type: str
    """The content type it is served with."""
    updated_at: datetime
    """When it was last written."""


class ObjectDeleted(Result):
    """A deleted object."""

    deleted: bool
    """Always true (a missing object raises `ApiError` 404 `object_not_found`)."""
    size: int
    """The bytes it freed."""


class SignedUrl(Result):
    """A URL that downloads one object without a key until it expires."""

    signed_url: str
    """The whole URL, on the API base it was asked from."""
    expires_at: datetime
    """When it stops working (at most an hour after it was made)."""
    expires_in: int
    """Its lifetime in seconds."""


class StorageApi:
    """`/storage/v1/object/...`."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    async def upload(
        self, bucket: str, path: str, data: bytes, key: str, *, content_type: str = "application/octet-stream",
    ) -> StoredObject:
        """Store `data` as `bucket/path` (replacing an object of that name)."""
        answer = await self._sender.send(Call(
            route="storage_upload", path={"bucket": bucket, "path": path}, content=data,
            headers={"apikey": key, "Content-Type": content_type}, secrets=(key,),
        ))
        return parse(StoredObject, answer)

    async def download(self, bucket: str, path: str, key: str) -> bytes:
        """The object's bytes (raises `ApiError` 404 `object_not_found` if there is none)."""
        answer = await self._sender.send(Call(
            route="storage_download", path={"bucket": bucket, "path": path}, headers={"apikey": key}, secrets=(key,),
        ))
        return bytes(answer.data)

    async def delete(self, bucket: str, path: str, key: str) -> ObjectDeleted:
        """Remove the object; its bytes stop counting toward the quota."""
        answer = await self._sender.send(Call(
            route="storage_delete", path={"bucket": bucket, "path": path}, headers={"apikey": key}, secrets=(key,),
        ))
        return parse(ObjectDeleted, answer)

    async def list(
        self, bucket: str, key: str, *, prefix: str = "", limit: int = 100, offset: int = 0,
    ) -> tuple[ObjectInfo, ...]:
        """The bucket's objects by path, those under `prefix` only if given."""
        params = [("prefix", prefix), ("limit", str(limit)), ("offset", str(offset))]
        answer = await self._sender.send(Call(
            route="storage_list", path={"bucket": bucket}, params=params, headers={"apikey": key}, secrets=(key,),
        ))
        return parse_list(ObjectInfo, answer, "objects")

    async def sign(self, bucket: str, path: str, key: str, *, expires_in: int = 3600) -> SignedUrl:
        """A URL that downloads the object without a key for `expires_in` seconds (1 to 3600)."""
        answer = await self._sender.send(Call(
            route="storage_sign", path={"bucket": bucket, "path": path}, json={"expires_in": expires_in},
            headers={"apikey": key}, secrets=(key,),
        ))
        return parse(SignedUrl, answer)

    async def download_signed(self, signed_url: str) -> bytes:
        """The bytes a signed URL (from `sign`) names, through this client's API base."""
        parts = urlsplit(signed_url)
        prefix = "/storage/v1/object/sign/"
        if not parts.path.startswith(prefix) or "/" not in parts.path[len(prefix):]:
            raise ValueError(f"{signed_url!r} is not a signed storage URL (from StorageApi.sign)")
        bucket, _, path = parts.path[len(prefix):].partition("/")
        answer = await self._sender.send(Call(
            route="storage_signed_download", path={"bucket": unquote(bucket), "path": unquote(path)},
            params=parse_qsl(parts.query), secrets=tuple(v for _, v in parse_qsl(parts.query)),
        ))
        return bytes(answer.data)
