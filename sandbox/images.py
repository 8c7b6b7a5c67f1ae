"""Placeholder images: a deterministic PNG per prompt, written with zlib and struct.

The sandbox has no image model. What an app needs from `POST /v1/generate-image` is
a real PNG of the right shape that it can store and show, the same one each time for
the same prompt (so tests and rebuilds are stable): an 8 × 8 grid of colour blocks
whose palette and layout are drawn from the prompt's SHA-256, each block shaded a
little by its position. Rows repeat within a block, so encoding stays cheap in pure
Python.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from typing import Final, Literal, TypeAlias

__all__ = ["Aspect", "ASPECTS", "placeholder_png"]

Aspect: TypeAlias = Literal["square", "landscape", "portrait"]

ASPECTS: Final[dict[str, tuple[int, int]]] = {
    "square": (512, 512),      # 1:1
    "landscape": (896, 504),   # 16:9
    "portrait": (504, 896),    # 9:16
}
"""Width and height of each aspect, in pixels; both divide by the grid."""

_GRID = 8
Rgb: TypeAlias = tuple[int, int, int]


def placeholder_png(prompt: str, aspect: str) -> bytes:
    """The PNG for `prompt` in `aspect` (one of `ASPECTS`); the same bytes every time."""
    width, height = ASPECTS[aspect]
    seed = hashlib.sha256(prompt.encode("utf-8")).digest()
    palette = [(seed[i], seed[i + 1], seed[i + 2]) for i in range(0, 24, 3)]
    return _png(width, height, _rows(width, height, seed, palette))


def _rows(width: int, height: int, seed: bytes, palette: list[Rgb]) -> bytes:
    """Filter-0 scanlines: each block of rows repeats one scanline."""
    cell_w, cell_h = width // _GRID, height // _GRID
    out = bytearray()
    for row in range(_GRID):
        line = bytearray(b"\x00")
        for col in range(_GRID):
            # Three bits of the seed per cell choose its colour; the rest shade it by position.
            pick = seed[(row * _GRID + col) % 32] >> ((col % 4) * 2) & 0b111
            line += bytes(_shade(palette[pick], row, col)) * cell_w
        out += bytes(line) * cell_h
    return bytes(out)


def _shade(colour: Rgb, row: int, col: int) -> Rgb:
    lift = (row + col) * 6
    return (min(255, colour[0] + lift), min(255, colour[1] + lift // 2), max(0, colour[2] - lift // 3))


def _png(width: int, height: int, raw: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"".join((
        b"\x89PNG\r\n\x1a\n",
        _chunk(b"IHDR", header),
        _chunk(b"tEXt", b"Comment\x00appwright sandbox placeholder"),
        _chunk(b"IDAT", zlib.compress(raw, 9)),
        _chunk(b"IEND", b""),
    ))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
