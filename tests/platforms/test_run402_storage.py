"""The client's storage, image and usage methods, against the real sandbox over loopback."""

from __future__ import annotations

import asyncio
import os
import struct
import zlib
from pathlib import Path

import asyncpg
import pytest
from conftest import charges, new_key

from appwright.platforms.run402 import (
    ApiError,
    LeaseExpired,
    PaymentError,
    ProjectCreated,
    Run402,
    WalletRequired,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_upload_download_list_delete_round_trip(client: Run402, project: ProjectCreated) -> None:
    data = os.urandom(20_000) + b"<html>not a page</html>"
    stored = await client.storage.upload("assets", "photos/a b.jpg", data, project.anon_key, content_type="image/jpeg")
    assert (stored.bucket, stored.path, stored.size) == ("assets", "photos/a b.jpg", len(data))
    assert stored.storage_used_bytes == len(data)
    assert await client.storage.download("assets", "photos/a b.jpg", project.anon_key) == data
    page = b"<!doctype html><html><body>hi</body></html>"
    await client.storage.upload("assets", "index.html", page, project.service_key, content_type="text/html")
    assert await client.storage.download("assets", "index.html", project.anon_key) == page  # bytes, not a "web site"

    listed = await client.storage.list("assets", project.anon_key)
    assert [o.name for o in listed] == ["index.html", "photos/a b.jpg"]
    assert listed[1].content_type == "image/jpeg" and listed[1].size == len(data)
    assert [o.name for o in await client.storage.list("assets", project.anon_key, prefix="photos/")] == ["photos/a b.jpg"]

    deleted = await client.storage.delete("assets", "photos/a b.jpg", project.anon_key)
    assert deleted.deleted and deleted.size == len(data)
    with pytest.raises(ApiError) as missing:
        await client.storage.download("assets", "photos/a b.jpg", project.anon_key)
    assert (missing.value.status, missing.value.code) == (404, "object_not_found")


async def test_signed_urls(client: Run402, project: ProjectCreated) -> None:
    await client.storage.upload("pics", "cat.png", b"\x89PNG cat", project.anon_key, content_type="image/png")
    signed = await client.storage.sign("pics", "cat.png", project.anon_key)
    assert signed.expires_in == 3600 and signed.signed_url.startswith(client.api.url)
    async with Run402(api=client.api.url) as keyless:
        assert await keyless.storage.download_signed(signed.signed_url) == b"\x89PNG cat"
        with pytest.raises(ApiError) as tampered:
            await keyless.storage.download_signed(signed.signed_url[:-3] + "AAA")
        assert (tampered.value.status, tampered.value.code) == (403, "invalid_signature")
        short = await client.storage.sign("pics", "cat.png", project.anon_key, expires_in=1)
        await asyncio.sleep(1.1)
        with pytest.raises(ApiError) as expired:
            await keyless.storage.download_signed(short.signed_url)
        assert expired.value.code == "signed_url_expired"
        with pytest.raises(ValueError, match="not a signed storage URL"):
            await keyless.storage.download_signed(f"{client.api.url}/rest/v1/todos")


async def test_paths_that_climb_never_leave_the_client(client: Run402, project: ProjectCreated) -> None:
    for bad in ("../x", "a/../../b", "/etc/passwd", "a//b"):
        with pytest.raises(ValueError, match="relative path"):
            await client.storage.upload("assets", bad, b"x", project.anon_key)
    with pytest.raises(ApiError) as encoded:
        await client.storage.upload("assets", "%2e%2e", b"x", project.anon_key)
    assert (encoded.value.status, encoded.value.code) == (400, "invalid_object_path")
    with pytest.raises(ApiError) as bucket:
        await client.storage.upload("Bad Bucket", "x", b"x", project.anon_key)
    assert bucket.value.code == "invalid_bucket"


async def test_over_the_storage_quota_is_a_quota_402(client: Run402, project: ProjectCreated, pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(
            "INSERT INTO sandbox.storage_objects (project_id, bucket, path, content, content_type, size) "
            "VALUES ($1, 'big', 'filler', '', 'application/octet-stream', $2)", project.project_id, 250 * 1024 * 1024,
        )
    finally:
        await conn.close()
    with pytest.raises(PaymentError) as over:
        await client.storage.upload("big", "one-more.bin", b"1", project.anon_key)
    assert over.value.code == "quota_exceeded"
    usage = await client.usage(project.project_id, project.service_key)
    assert usage.storage_bytes == usage.storage_limit_bytes == 250 * 1024 * 1024


async def test_usage_and_the_lifecycle(client: Run402, project: ProjectCreated, pg_dsn: str) -> None:
    await client.storage.upload("files", "a.txt", b"abc", project.anon_key)
    usage = await client.usage(project.project_id, project.service_key)
    assert (usage.state, usage.tier, usage.storage_bytes) == ("active", "prototype", 3)
    assert usage.api_calls >= 1 and usage.api_calls_limit == 500_000
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute("UPDATE sandbox.projects SET lease_expires_at = now() - interval '2 days' WHERE id = $1",
                           project.project_id)
    finally:
        await conn.close()
    await asyncio.sleep(1.1)
    assert (await client.usage(project.project_id, project.service_key)).state == "read_only"
    with pytest.raises(LeaseExpired):
        await client.storage.upload("files", "b.txt", b"b", project.anon_key)
    await client.renew(project.project_id, idempotency_key=new_key())
    assert (await client.usage(project.project_id, project.service_key)).state == "active"
    assert (await client.storage.upload("files", "b.txt", b"b", project.anon_key)).size == 1


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(data[12:29]) & 0xFFFFFFFF
    return struct.unpack(">II", data[16:24])


async def test_generate_image_writes_the_png_and_pays_three_cents(
    api: str, client: Run402, tmp_path: Path,
) -> None:
    key = new_key()
    image = await client.images.generate("a cat in a top hat", tmp_path / "out" / "cat.png", aspect="landscape",
                                         idempotency_key=key)
    assert image.path == tmp_path / "out" / "cat.png" and image.content_type == "image/png"
    assert image.aspect == "landscape" and image.placeholder and "placeholder" in (image.note or "")
    assert _png_size(image.path) == (896, 504) and image.size == image.path.stat().st_size
    assert image.receipt is not None and image.receipt.amount_micros == 30_000
    again = await client.images.generate("a cat in a top hat", tmp_path / "again.png", aspect="landscape",
                                         idempotency_key=key)
    assert again.replayed and again.path.read_bytes() == image.path.read_bytes()
    square = await client.images.generate("a cat in a top hat", tmp_path / "sq.png", idempotency_key=new_key())
    portrait = await client.images.generate("a cat in a top hat", tmp_path / "pt.png", aspect="portrait",
                                            idempotency_key=new_key())
    assert _png_size(square.path) == (512, 512) and _png_size(portrait.path) == (504, 896)
    assert [c.amount_usd_micros for c in await charges(api, client.address or "")] == [-30_000] * 3
    assert not list(tmp_path.rglob("*.part"))


async def test_generate_image_needs_a_wallet_and_a_valid_aspect(api: str, client: Run402, tmp_path: Path) -> None:
    async with Run402(api=api) as keyless:
        with pytest.raises(WalletRequired):
            await keyless.images.generate("x", tmp_path / "x.png", idempotency_key=new_key())
    with pytest.raises(ApiError) as bad:
        await client.images.generate("x", tmp_path / "x.png", aspect="wide", idempotency_key=new_key())  # type: ignore[arg-type]
    assert bad.value.code == "invalid_aspect" and not (tmp_path / "x.png").exists()
