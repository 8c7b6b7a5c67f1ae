"""End-to-end: storage objects on the real sandbox (upload, download, delete, list, signed
URLs, names that try to leave their project, the tier's storage quota)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from core import anon, assert_error, create, db, rich_account, service, user

pytestmark = pytest.mark.asyncio(loop_scope="session")

OBJ = "/storage/v1/object"
MB = 1024 * 1024


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def project(api: str, pg_dsn: str) -> dict[str, Any]:
    return await create(api, await rich_account(pg_dsn), "storage")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def other(api: str, pg_dsn: str) -> dict[str, Any]:
    return await create(api, await rich_account(pg_dsn), "storage-other")


async def raw_request(api: str, method: str, target: str, headers: dict[str, str], body: bytes = b"") -> int:
    """The status of a request whose target is sent byte for byte (httpx would fold `..`)."""
    url = urlsplit(api)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    headers = {"Content-Length": str(len(body)), **headers}
    lines = [f"{method} {target} HTTP/1.1", f"Host: {url.netloc}", "Connection: close",
             *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])


async def test_binary_round_trip_any_content_type(api: str, project: dict[str, Any]) -> None:
    data = bytes(range(256)) * 64 + b"\x00\r\n\xff" + os.urandom(4096)
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        put = await http.post(f"{OBJ}/assets/photos/cat.bin", content=data,
                              headers={**anon(project), "Content-Type": "application/x-custom; v=1"})
        assert put.status_code == 201, put.text
        assert put.json()["Key"] == "assets/photos/cat.bin" and put.json()["size"] == len(data)
        got = await http.get(f"{OBJ}/assets/photos/cat.bin", headers=anon(project))
        assert got.status_code == 200 and got.content == data
        assert got.headers["content-type"] == "application/x-custom; v=1"
        assert got.headers["x-content-type-options"] == "nosniff"

        # no content type: stored as octet-stream; an upload of the same name replaces it
        bare = await http.post(f"{OBJ}/assets/photos/cat.bin", content=b"second", headers=anon(project))
        assert bare.status_code == 201 and bare.json()["content_type"] == "application/octet-stream"
        assert (await http.get(f"{OBJ}/assets/photos/cat.bin", headers=anon(project))).content == b"second"

        empty = await http.post(f"{OBJ}/assets/empty.txt", content=b"", headers={**anon(project), "Content-Type": "text/plain"})
        assert empty.status_code == 201
        assert (await http.get(f"{OBJ}/assets/empty.txt", headers=anon(project))).content == b""

        unicode = await http.post(f"{OBJ}/assets/d%C3%A9j%C3%A0%20vu.txt", content="héllo".encode(),
                                  headers={**service(project), "Content-Type": "text/plain; charset=utf-8"})
        assert unicode.status_code == 201 and unicode.json()["path"] == "déjà vu.txt"


async def test_list_delete_and_keys(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        _, token = await user(http, project)
        for name, key in (("docs/a.txt", project["anon_key"]), ("docs/b.txt", project["service_key"]),
                          ("docs/sub/c.txt", token), ("other.txt", project["anon_key"])):
            assert (await http.post(f"{OBJ}/listing/{name}", content=name.encode(), headers={"apikey": key})).status_code == 201
        listed = await http.get(f"{OBJ}/list/listing", headers=anon(project))
        assert listed.status_code == 200
        assert [o["name"] for o in listed.json()["objects"]] == ["docs/a.txt", "docs/b.txt", "docs/sub/c.txt", "other.txt"]
        assert listed.json()["objects"][0]["size"] == len("docs/a.txt")
        docs = await http.get(f"{OBJ}/list/listing", params={"prefix": "docs/", "limit": "2"}, headers=anon(project))
        assert [o["name"] for o in docs.json()["objects"]] == ["docs/a.txt", "docs/b.txt"]
        assert (await http.get(f"{OBJ}/list/nothing-here", headers=anon(project))).json()["objects"] == []
        assert_error(await http.get(f"{OBJ}/list/listing", params={"limit": "0"}, headers=anon(project)), 400, "invalid_limit")

        gone = await http.delete(f"{OBJ}/listing/docs/a.txt", headers=anon(project))
        assert gone.status_code == 200 and gone.json()["deleted"] is True
        assert_error(await http.get(f"{OBJ}/listing/docs/a.txt", headers=anon(project)), 404, "object_not_found")
        assert_error(await http.delete(f"{OBJ}/listing/docs/a.txt", headers=anon(project)), 404, "object_not_found")

        assert_error(await http.get(f"{OBJ}/listing/other.txt"), 401, "missing_key")
        assert_error(await http.get(f"{OBJ}/listing/other.txt", headers={"apikey": "not-a-key"}), 401, "invalid_key")


async def test_a_project_never_sees_another_projects_objects(
    api: str, project: dict[str, Any], other: dict[str, Any],
) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        assert (await http.post(f"{OBJ}/shared/secret.txt", content=b"mine", headers=anon(project))).status_code == 201
        assert_error(await http.get(f"{OBJ}/shared/secret.txt", headers=anon(other)), 404, "object_not_found")
        assert (await http.get(f"{OBJ}/list/shared", headers=anon(other))).json()["objects"] == []
        assert_error(await http.delete(f"{OBJ}/shared/secret.txt", headers=service(other) | anon(other)), 404)
        assert (await http.post(f"{OBJ}/shared/secret.txt", content=b"theirs", headers=anon(other))).status_code == 201
        assert (await http.get(f"{OBJ}/shared/secret.txt", headers=anon(project))).content == b"mine"


@pytest.mark.parametrize("target", [
    "/assets/../../etc/passwd",
    "/assets/a/../b.txt",
    "/assets/./b.txt",
    "/assets//etc/passwd",
    "/assets/%2e%2e/x.txt",
    "/assets/%2E%2E%2Fx.txt",
    "/assets/a%2f..%2f..%2fb",
    "/assets/%252e%252e/x.txt",
    "/assets/a\\..\\b.txt",
    "/assets/a%5c..%5cb.txt",
    "/assets/a%00b.txt",
    "/assets/",
    "/..%2f/x.txt",
    "/ASSETS/x.txt",
])
async def test_object_paths_cannot_escape_their_project(api: str, project: dict[str, Any], target: str) -> None:
    headers = anon(project)
    for method in ("POST", "GET", "DELETE"):
        assert await raw_request(api, method, OBJ + target, headers, b"x" if method == "POST" else b"") == 400, (method, target)
    assert await raw_request(api, "POST", OBJ + "/sign" + target, headers) == 400
    assert await raw_request(api, "GET", OBJ + "/sign" + target + "?token=x.y", {}) == 400


async def test_reserved_and_invalid_bucket_names(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        for bucket in ("public", "a" * 64, "Bad", "_x"):
            body = assert_error(await http.post(f"{OBJ}/{bucket}/x.txt", content=b"x", headers=anon(project)), 400)
            assert body["error"] in ("invalid_bucket", "invalid_object_path"), body


async def test_signed_urls_work_without_a_key_and_refuse_tampering(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await http.post(f"{OBJ}/pics/a b/cat.png", content=b"\x89PNG-cat", headers={**anon(project), "Content-Type": "image/png"})
        await http.post(f"{OBJ}/pics/dog.png", content=b"\x89PNG-dog", headers=anon(project))
        signed = await http.post(f"{OBJ}/sign/pics/a b/cat.png", headers=anon(project))
        assert signed.status_code == 200, signed.text
        body = signed.json()
        assert body["expires_in"] == 3600
        expires = dt.datetime.fromisoformat(body["expires_at"])
        assert 3590 < (expires - dt.datetime.now(dt.timezone.utc)).total_seconds() <= 3600
        got = await http.get(body["signedURL"])
        assert got.status_code == 200 and got.content == b"\x89PNG-cat" and got.headers["content-type"] == "image/png"
        assert (await http.get(body["signed_url"])).content == b"\x89PNG-cat"

        token = httpx.URL(body["signedURL"]).params["token"]
        claims, mac = token.split(".")
        flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
        for bad in (f"{claims}.{flipped}", f"{claims}x.{mac}", claims, "", "garbage"):
            assert_error(await http.get(f"{OBJ}/sign/pics/a b/cat.png", params={"token": bad}), 403, "invalid_signature")
        # the token is for one object only
        assert_error(await http.get(f"{OBJ}/sign/pics/dog.png", params={"token": token}), 403, "invalid_signature")
        assert_error(await http.get(f"{OBJ}/sign/pics/a b/cat.png"), 403, "invalid_signature")

        assert_error(await http.post(f"{OBJ}/sign/pics/none.png", headers=anon(project)), 404, "object_not_found")
        for ttl in (0, 3601, "60", True):
            assert_error(await http.post(f"{OBJ}/sign/pics/dog.png", headers=anon(project), json={"expires_in": ttl}),
                         400, "invalid_expires_in")


async def test_signed_urls_expire(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await http.post(f"{OBJ}/pics/short.txt", content=b"soon gone", headers=anon(project))
        signed = await http.post(f"{OBJ}/sign/pics/short.txt", headers=anon(project), json={"expires_in": 1})
        assert signed.json()["expires_in"] == 1
        url = signed.json()["signedURL"]
        await asyncio.sleep(1.1)
        assert_error(await http.get(url), 403, "signed_url_expired")


async def test_storage_counts_toward_the_tier_quota(api: str, pg_dsn: str) -> None:
    project = await create(api, await rich_account(pg_dsn), "quota")
    pid = project["project_id"]
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        first = await http.post(f"{OBJ}/big/one.bin", content=b"1" * MB, headers=anon(project))
        assert first.status_code == 201 and first.json()["storage_used_bytes"] == MB
        usage = await http.get(f"/admin/v1/projects/{pid}/usage", headers=service(project))
        assert usage.json()["storage_bytes"] == MB and usage.json()["storage_limit_bytes"] == 250 * MB

        # Bring the project to the edge of its 250 MB without sending 250 MB: a row of that size.
        await db(pg_dsn, "INSERT INTO sandbox.storage_objects (project_id, bucket, path, content, content_type, size) "
                         "VALUES ($1, 'big', 'filler', '', 'application/octet-stream', $2)", pid, 249 * MB - 10)
        over = await http.post(f"{OBJ}/big/two.bin", content=b"2" * 11, headers=anon(project))
        body = assert_error(over, 402, "quota_exceeded")
        assert "PAYMENT-REQUIRED" not in over.headers  # a quota 402 is not a payment request
        assert body["storage_limit_bytes"] == 250 * MB and "delete" in body["hint"]
        assert (await http.post(f"{OBJ}/big/two.bin", content=b"2" * 10, headers=anon(project))).status_code == 201
        # replacing an object counts its new size only; deleting frees its bytes
        assert (await http.post(f"{OBJ}/big/one.bin", content=b"1" * MB, headers=anon(project))).status_code == 201
        assert (await http.delete(f"{OBJ}/big/one.bin", headers=anon(project))).status_code == 200
        assert (await http.post(f"{OBJ}/big/three.bin", content=b"3" * 1000, headers=anon(project))).status_code == 201


async def test_too_large_objects_are_refused(api: str, project: dict[str, Any]) -> None:
    status = await raw_request(api, "POST", f"{OBJ}/big/huge.bin", {**anon(project), "Content-Length": str(51 * MB)})
    assert status == 413


async def test_storage_follows_the_lease_and_goes_with_the_project(api: str, pg_dsn: str) -> None:
    project = await create(api, await rich_account(pg_dsn), "lease-storage")
    pid = project["project_id"]
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await http.post(f"{OBJ}/keep/a.txt", content=b"kept", headers=anon(project))
        signed = (await http.post(f"{OBJ}/sign/keep/a.txt", headers=anon(project))).json()["signedURL"]
        await db(pg_dsn, "UPDATE sandbox.projects SET lease_expires_at = now() - interval '1 hour' WHERE id = $1", pid)
        await asyncio.sleep(1.1)  # past the project cache
        assert (await http.get(f"{OBJ}/keep/a.txt", headers=anon(project))).content == b"kept"
        assert (await http.get(signed)).status_code == 200
        assert_error(await http.post(f"{OBJ}/keep/b.txt", content=b"x", headers=anon(project)), 403, "lease_expired")
        assert_error(await http.delete(f"{OBJ}/keep/a.txt", headers=anon(project)), 403, "lease_expired")

        await db(pg_dsn, "UPDATE sandbox.projects SET lease_expires_at = now() - interval '8 days' WHERE id = $1", pid)
        await asyncio.sleep(1.1)
        assert_error(await http.get(f"{OBJ}/keep/a.txt", headers=anon(project)), 403, "lease_expired")
        assert_error(await http.get(signed), 403, "lease_expired")

        await db(pg_dsn, "UPDATE sandbox.projects SET lease_expires_at = now() + interval '1 day' WHERE id = $1", pid)
        await asyncio.sleep(1.1)
        assert (await http.delete(f"/v1/projects/{pid}", headers=service(project))).status_code == 200
    left = await db(pg_dsn, "SELECT count(*) AS n FROM sandbox.storage_objects WHERE project_id = $1", pid)
    assert left[0]["n"] == 0
