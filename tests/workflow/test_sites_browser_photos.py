"""The photos blueprint's site in a real Chromium: upload a picture, see it on the wall and in the summary.

Deployed by hand the way `test_sites_browser` deploys every bundled blueprint (its
function too), then used as a visitor would: the page reads the wall through REST, shows
each picture through a signed storage URL, and its header line through the project's
`summary` function. Uploading a PNG with a caption stores the file with the anon key and
the row through REST; both are checked on the sandbox afterwards.
"""

from __future__ import annotations

import re
import struct
import uuid
import zlib
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from browser import chromium_page, expect
from test_sites_browser import Deployed, deploy_blueprint, snapshot

from appwright.workflow.blueprint import load_blueprint

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(240)]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def photos_app(api: str) -> Deployed:
    return await deploy_blueprint(api, load_blueprint("photos"))


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A small, valid PNG of one colour (so the browser really decodes it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width  # filter byte "none", then the pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height))
            + chunk(b"IEND", b""))


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


async def test_photos_upload_shows_on_the_wall_and_in_the_summary(photos_app: Deployed, tmp_path: Path) -> None:
    seeded = sorted(photos_app.blueprint.seed[0].rows, key=lambda row: row["created_at"], reverse=True)
    before = await photos_app.rows("photos?select=id,caption,image_path&order=created_at.desc,id.desc")
    with_photo = sum(1 for row in before if row["image_path"])
    caption = f"Gulls on the pier {uuid.uuid4().hex[:6]}"
    picture = tmp_path / "pier.png"
    picture.write_bytes(png(3, 2, (20, 140, 220)))

    async with chromium_page(tmp_path / "profile") as page:
        await page.goto(photos_app.url)
        tiles = page.locator("#wall .photo")
        await expect(tiles).to_have_count(len(before))
        await expect(page.locator("#wall .caption")).to_have_text([row["caption"] for row in before])
        await expect(page.locator("#summary")).to_have_text(
            f"{plural(len(before), 'post')} · {plural(with_photo, 'photo')}")
        latest = " · ".join(row["caption"] for row in before[:3])
        await expect(page.locator("#latest")).to_have_text(f"Latest: {latest}")
        assert [row["caption"] for row in before[-len(seeded):]] == [row["caption"] for row in seeded]
        await snapshot(page, "photos-before")

        await page.set_input_files("#photo-file", str(picture))
        await expect(page.locator("#picker-label")).to_have_text("pier.png")
        await page.fill("#photo-caption", caption)
        await page.click("#photo-submit")

        newest = tiles.first
        await expect(newest.locator(".caption")).to_have_text(caption)
        image = newest.locator("img")
        signed = re.compile(r"/storage/v1/object/sign/photos/uploads/[0-9a-f]{24}\.png\?token=")
        await expect(image).to_have_attribute("src", signed)
        await expect(image).to_have_attribute("alt", caption)
        # The browser fetched and decoded the stored PNG through its signed URL.
        await page.wait_for_function("img => img.complete && img.naturalWidth === 3", arg=await image.element_handle())
        await expect(page.locator("#summary")).to_have_text(
            f"{plural(len(before) + 1, 'post')} · {plural(with_photo + 1, 'photo')}")
        await expect(page.locator("#latest")).to_have_text(re.compile(rf"^Latest: {re.escape(caption)} · "))
        await expect(page.locator("#photo-caption")).to_have_value("")
        await snapshot(page, "photos-after")
        assert page.errors == [], page.errors + page.failed

    rows = await photos_app.rows(f"photos?caption=eq.{caption}&select=image_path,content_type")
    assert len(rows) == 1 and rows[0]["content_type"] == "image/png"
    assert re.fullmatch(r"uploads/[0-9a-f]{24}\.png", rows[0]["image_path"]), rows
    async with httpx.AsyncClient(base_url=photos_app.api, timeout=30) as http:
        stored = await http.get(f"/storage/v1/object/photos/{rows[0]['image_path']}",
                                headers={"apikey": photos_app.anon_key})
    assert stored.status_code == 200 and stored.content == picture.read_bytes()
    assert stored.headers["content-type"] == "image/png"


async def test_photos_a_second_visitor_sees_the_new_post(photos_app: Deployed, tmp_path: Path) -> None:
    """The wall refreshes itself: a post from one browser appears in another."""
    caption = f"Night ferry {uuid.uuid4().hex[:6]}"
    picture = tmp_path / "ferry.png"
    picture.write_bytes(png(2, 2, (230, 160, 40)))
    async with chromium_page(tmp_path / "one") as one, chromium_page(tmp_path / "two") as two:
        await one.goto(photos_app.url)
        await two.goto(photos_app.url)
        await expect(two.locator("#wall .photo").first).to_be_visible()
        await one.set_input_files("#photo-file", str(picture))
        await one.fill("#photo-caption", caption)
        await one.press("#photo-caption", "Enter")
        await expect(one.locator("#wall .photo").first.locator(".caption")).to_have_text(caption)
        await expect(two.locator("#wall .photo").first.locator(".caption")).to_have_text(caption, timeout=20_000)
        await expect(two.locator("#latest")).to_contain_text(caption)
        assert one.errors == [] and two.errors == [], one.failed + two.failed
