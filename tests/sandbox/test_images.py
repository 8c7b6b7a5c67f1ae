"""End-to-end: POST /v1/generate-image (x402, $0.03) returns a placeholder PNG per prompt and aspect."""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

import httpx
import pytest
from core import assert_error, decode_header, rich_account
from paying import balance, history, payer

pytestmark = pytest.mark.asyncio(loop_scope="session")


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, after checking its signature and every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, kinds = 8, []
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        kind, body = data[offset + 4:offset + 8], data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        kinds.append(kind)
        offset += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def generate(api: str, account: Any, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    async with payer(api, account) as http:
        return await http.post("/v1/generate-image", json=body, headers={"Idempotency-Key": key} if key else {})


@pytest.mark.parametrize(("aspect", "ratio"), [("square", 1.0), ("landscape", 16 / 9), ("portrait", 9 / 16), (None, 1.0)])
async def test_each_aspect_is_a_png_of_its_shape(api: str, pg_dsn: str, aspect: str | None, ratio: float) -> None:
    account = await rich_account(pg_dsn, 100_000)
    body = {"prompt": "a cat in a top hat"} | ({"aspect": aspect} if aspect else {})
    answer = await generate(api, account, body)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["content_type"] == "image/png" and data["aspect"] == (aspect or "square")
    assert data["placeholder"] is True and "sandbox placeholder" in data["note"]
    width, height = png_size(base64.b64decode(data["image"]))
    assert (width, height) == (data["width"], data["height"])
    assert abs(width / height - ratio) < 0.01


async def test_the_same_prompt_gives_the_same_image_and_another_prompt_another(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn, 200_000)
    first = (await generate(api, account, {"prompt": "a lighthouse at dusk"})).json()["image"]
    again = (await generate(api, account, {"prompt": "a lighthouse at dusk"})).json()["image"]
    other = (await generate(api, account, {"prompt": "a lighthouse at dawn"})).json()["image"]
    wide = (await generate(api, account, {"prompt": "a lighthouse at dusk", "aspect": "landscape"})).json()["image"]
    assert first == again
    assert len({first, other, wide}) == 3


async def test_an_image_costs_three_cents_once_per_idempotency_key(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn, 100_000)
    before = await balance(api, account.address)
    first = await generate(api, account, {"prompt": "paid once"}, key="img-1")
    assert first.status_code == 200
    assert decode_header(first.headers["PAYMENT-RESPONSE"])["success"] is True
    replay = await generate(api, account, {"prompt": "paid once"}, key="img-1")
    assert replay.json()["image"] == first.json()["image"]
    assert await balance(api, account.address) == before - 30_000
    entries = await history(api, account.address)
    assert [e["amount_usd_micros"] for e in entries if e["kind"] == "charge"] == [-30_000]
    assert "image" in entries[0]["description"]


async def test_without_payment_it_is_a_payment_402(api: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post("/v1/generate-image", json={"prompt": "free?"})
    assert_error(answer, 402, "payment_required")
    terms = decode_header(answer.headers["PAYMENT-REQUIRED"])
    assert terms["accepts"][0]["amount"] == "30000"


@pytest.mark.parametrize(("body", "code"), [
    ({}, "invalid_prompt"), ({"prompt": "  "}, "invalid_prompt"), ({"prompt": 3}, "invalid_prompt"),
    ({"prompt": "x" * 1001}, "prompt_too_long"), ({"prompt": "ok", "aspect": "wide"}, "invalid_aspect"),
    ({"prompt": "ok", "aspect": None}, "invalid_aspect"),
])
async def test_bad_requests_are_refused_before_payment(api: str, body: dict[str, Any], code: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post("/v1/generate-image", json=body)
    assert_error(answer, 400, code)
    assert "PAYMENT-REQUIRED" not in answer.headers


async def test_a_prompt_of_1000_characters_is_accepted(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn, 100_000)
    assert (await generate(api, account, {"prompt": "é" * 1000})).status_code == 200
