"""End-to-end: request bodies are capped while they are read, chunked ones included.

Each kind of route (a JSON route, a REST write, storage upload, a function call,
AltaTech, admin SQL) refuses a body over its cap with a 413 naming the cap: at once
when Content-Length says so, and as soon as the running total passes the cap when the
body comes chunked. A body of exactly the cap still works, and the server keeps
serving after a refusal. A raw socket sends what httpx would not: a chunked body that
never ends (the answer must come anyway) and a malformed Content-Length.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from core import anon, assert_error, create, rich_account, service
from starlette.requests import Request

from appwright.sandbox.api_altatech import MAX_BODY_BYTES as ALTATECH_BYTES
from appwright.sandbox.api_functions import MAX_REQUEST_BYTES as CALL_BYTES
from appwright.sandbox.bodies import JSON_BODY_BYTES, read_body
from appwright.sandbox.errors import ApiError
from appwright.sandbox.storage import MAX_OBJECT_BYTES

pytestmark = pytest.mark.asyncio(loop_scope="session")

OBJ = "/storage/v1/object"
MIB = 1024 * 1024
LENGTH_FN = "export default async (req) => new Response(String((await req.arrayBuffer()).byteLength));"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def project(api: str, pg_dsn: str) -> dict[str, Any]:
    """A prototype project with a function answering its body's length, and one stored object."""
    created = await create(api, await rich_account(pg_dsn), "bodies")
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        deployed = await http.post(f"/admin/v1/projects/{created['project_id']}/functions", headers=service(created),
                                   json={"name": "length", "code": LENGTH_FN})
        assert deployed.status_code == 201, deployed.text
        stored = await http.post(f"{OBJ}/docs/a.txt", content=b"a", headers=anon(created))
        assert stored.status_code == 201, stored.text
    return created


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def alta_key(api: str) -> str:
    """An AltaTech project's API key."""
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answer = await http.post("/sandbox/altatech/projects", json={"name": "bodies"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["data"]["api_key"])


# --- sending ---------------------------------------------------------------------------


def padded_json(size: int, fields: dict[str, Any]) -> bytes:
    """A JSON object of exactly `size` bytes: `fields` and a `pad` string that fills the rest."""
    bare = json.dumps({**fields, "pad": ""}).encode()
    body = json.dumps({**fields, "pad": "x" * (size - len(bare))}).encode()
    assert len(body) == size
    return body


async def chunks(size: int, *, part: int = MIB, fill: bytes = b"x") -> AsyncIterator[bytes]:
    """`size` bytes in parts; as httpx's `content=`, sent with chunked transfer encoding."""
    while size > 0:
        yield fill * min(part, size)
        size -= part


@dataclass(frozen=True)
class RawAnswer:
    """The status and JSON body (None if not JSON) of an answer read off a raw socket."""

    status: int
    body: Any


async def raw_exchange(api: str, method: str, target: str, headers: dict[str, str],
                       parts: Iterable[bytes] = ()) -> RawAnswer:
    """Send a request head and body bytes exactly as given; the answer, whether or not the body ended."""
    url = urlsplit(api)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        head = [f"{method} {target} HTTP/1.1", f"Host: {url.netloc}", "Connection: close",
                *(f"{k}: {v}" for k, v in headers.items())]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        for part in parts:
            writer.write(part)
            await writer.drain()
        return await asyncio.wait_for(_read_answer(reader), timeout=30)
    finally:
        writer.close()


async def _read_answer(reader: asyncio.StreamReader) -> RawAnswer:
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    raw = await reader.readexactly(length)
    try:
        return RawAnswer(status, json.loads(raw))
    except ValueError:
        return RawAnswer(status, None)


def chunk(data: bytes) -> bytes:
    """One chunk of chunked transfer encoding."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def assert_too_large(answer: httpx.Response, limit: int) -> dict[str, Any]:
    """A 413 `body_too_large` that names the limit in bytes, with a hint."""
    body = assert_error(answer, 413, "body_too_large")
    assert f"{limit:,} bytes" in body["message"] and body["limit_bytes"] == limit, body
    assert body["hint"], body
    return body


async def still_serving(http: httpx.AsyncClient, project: dict[str, Any]) -> None:
    """The sandbox answers the next request as usual."""
    answer = await http.get(f"{OBJ}/docs/a.txt", headers=anon(project))
    assert answer.status_code == 200 and answer.content == b"a", answer.text


# --- JSON routes -------------------------------------------------------------------------


async def test_json_route_refuses_a_declared_length_over_the_cap(api: str, project: dict[str, Any]) -> None:
    answer = await raw_exchange(api, "POST", f"{OBJ}/sign/docs/a.txt",
                                {**anon(project), "Content-Length": str(JSON_BODY_BYTES + 1)})
    assert answer.status == 413 and answer.body["error"] == "body_too_large", answer
    assert "16 MiB" in answer.body["message"] and f"{JSON_BODY_BYTES + 1:,}" in answer.body["message"]


async def test_json_route_refuses_a_chunked_body_over_the_cap_and_keeps_serving(
    api: str, project: dict[str, Any],
) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        answer = await http.post(f"{OBJ}/sign/docs/a.txt", content=chunks(JSON_BODY_BYTES + 1), headers=anon(project))
        assert "content-length" not in answer.request.headers  # it really went chunked
        body = assert_too_large(answer, JSON_BODY_BYTES)
        assert "more than" in body["message"]
        await still_serving(http, project)


async def test_json_route_takes_a_body_of_exactly_the_cap(api: str, project: dict[str, Any]) -> None:
    body = padded_json(JSON_BODY_BYTES, {"expires_in": 60})
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        declared = await http.post(f"{OBJ}/sign/docs/a.txt", content=body, headers=anon(project))
        chunked = await http.post(f"{OBJ}/sign/docs/a.txt", content=chunks(len(body), fill=b" "),
                                  headers=anon(project))
    assert declared.status_code == 200 and declared.json()["expires_in"] == 60, declared.text
    # Whitespace only is the empty body: the default hour; what matters is that it was read.
    assert chunked.status_code == 200 and chunked.json()["expires_in"] == 3600, chunked.text


async def test_a_chunked_body_is_refused_before_it_ends(api: str, project: dict[str, Any]) -> None:
    """The answer comes once the cap is passed, though the body's last chunk never comes."""
    part = b"x" * MIB
    parts = [chunk(part)] * (JSON_BODY_BYTES // MIB) + [chunk(b"x")]
    answer = await raw_exchange(api, "POST", f"{OBJ}/sign/docs/a.txt",
                                {**anon(project), "Transfer-Encoding": "chunked"}, parts)
    assert answer.status == 413 and answer.body["error"] == "body_too_large", answer


async def test_rest_write_is_capped(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        answer = await http.post("/rest/v1/nothing", content=chunks(JSON_BODY_BYTES + 1), headers=service(project))
        assert_too_large(answer, JSON_BODY_BYTES)
        await still_serving(http, project)


async def test_admin_sql_is_capped_while_read(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        answer = await http.post(f"/admin/v1/projects/{project['project_id']}/sql", headers=service(project),
                                 content=chunks(1_000_001, part=100_000))
    assert "1 MB" in assert_too_large(answer, 1_000_000)["message"]


# --- malformed Content-Length ----------------------------------------------------------


@pytest.mark.parametrize("lengths", [["abc"], ["-1"], ["1.5"], ["0x10"], ["1, 1"], ["1", "2"]])
async def test_a_malformed_content_length_is_a_400(api: str, project: dict[str, Any], lengths: list[str]) -> None:
    """uvicorn's HTTP parser answers these itself (plain text), before the app sees them."""
    url = urlsplit(api)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    head = [f"POST {OBJ}/sign/docs/a.txt HTTP/1.1", f"Host: {url.netloc}", "Connection: close",
            f"apikey: {project['anon_key']}", *(f"Content-Length: {value}" for value in lengths)]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    answer = await asyncio.wait_for(_read_answer(reader), timeout=30)
    writer.close()
    assert answer.status == 400, answer
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await still_serving(http, project)


@pytest.mark.parametrize("lengths", [[b"abc"], [b"\xb2"], [b"1", b"2"], [b" "]])
async def test_read_body_answers_a_malformed_content_length_in_the_sandbox_shape(lengths: list[bytes]) -> None:
    """Behind a server that lets such a header through, `read_body` itself answers 400 JSON."""
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"x", "more_body": False}

    headers = [(b"content-length", value) for value in lengths]
    request = Request({"type": "http", "method": "POST", "path": "/", "headers": headers}, receive)
    with pytest.raises(ApiError) as refused:
        await read_body(request, limit=10, what="a test body")
    assert refused.value.status == 400 and refused.value.code == "invalid_content_length"


# --- storage -----------------------------------------------------------------------------


async def test_storage_upload_is_capped_while_read(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=120) as http:
        over = await http.post(f"{OBJ}/big/over.bin", content=chunks(MAX_OBJECT_BYTES + 1), headers=anon(project))
        assert "parts" in assert_too_large(over, MAX_OBJECT_BYTES)["hint"]
        assert (await http.get(f"{OBJ}/big/over.bin", headers=anon(project))).status_code == 404
        exact = await http.post(f"{OBJ}/big/exact.bin", content=chunks(MAX_OBJECT_BYTES), headers=anon(project))
        assert exact.status_code == 201 and exact.json()["size"] == MAX_OBJECT_BYTES, exact.text
        assert (await http.delete(f"{OBJ}/big/exact.bin", headers=anon(project))).status_code == 200


async def test_storage_refuses_a_declared_length_over_the_cap(api: str, project: dict[str, Any]) -> None:
    answer = await raw_exchange(api, "POST", f"{OBJ}/big/huge.bin",
                                {**anon(project), "Content-Length": str(MAX_OBJECT_BYTES + 1)})
    assert answer.status == 413 and answer.body["limit_bytes"] == MAX_OBJECT_BYTES, answer


# --- function calls ----------------------------------------------------------------------


async def test_function_call_is_capped_while_read(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        over = await http.post("/functions/v1/length", content=chunks(CALL_BYTES + 1), headers=anon(project))
        assert_too_large(over, CALL_BYTES)
        exact = await http.post("/functions/v1/length", content=chunks(CALL_BYTES), headers=anon(project))
        assert exact.status_code == 200 and exact.text == str(CALL_BYTES), exact.text
        declared = await http.post("/functions/v1/length", content=b"x" * (CALL_BYTES + 1), headers=anon(project))
        assert_too_large(declared, CALL_BYTES)


# --- AltaTech ------------------------------------------------------------------------------


async def test_altatech_body_is_capped_in_its_own_shape(api: str, alta_key: str, project: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {alta_key}"}
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        over = await http.post("/v1/database/records/page", content=chunks(ALTATECH_BYTES + 1), headers=headers)
        assert over.status_code == 413, over.text
        assert over.json()["code"] == 40000 and f"{ALTATECH_BYTES:,} bytes" in over.json()["message"]
        exact = await http.post("/sandbox/altatech/projects", content=padded_json(ALTATECH_BYTES, {"name": "exact"}))
        assert exact.status_code == 201, exact.text
        await still_serving(http, project)


async def test_altatech_refuses_a_declared_length_over_the_cap(api: str) -> None:
    answer = await raw_exchange(api, "POST", "/sandbox/altatech/projects",
                                {"Content-Length": str(ALTATECH_BYTES + 1)})
    assert answer.status == 413 and answer.body["code"] == 40000, answer
