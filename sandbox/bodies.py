"""Reading a request's body with a cap that holds while it is read.

The sandbox serves from one worker: a body read whole before its size is checked
could make it hold any amount of memory, since a client that sends no
Content-Length (chunked transfer encoding) says nothing of the size in advance.
`read_body` refuses a declared size over the limit before reading a byte, and reads
everything else chunk by chunk, stopping at the first chunk that would pass the
limit. Either way the answer is a 413 `body_too_large` naming the limit.
"""

from __future__ import annotations

import re
from contextlib import aclosing
from typing import Final

from starlette.requests import Request

from .errors import ApiError

__all__ = ["JSON_BODY_BYTES", "MIB", "declared_length", "read_body"]

MIB: Final = 1024 * 1024
"""One mebibyte, the unit the caps are written in."""

JSON_BODY_BYTES: Final = 16 * MIB
"""The cap of an ordinary JSON body (everything but deployments, storage, SQL, function calls).

The largest such requests are a secrets call (at most 100 values of 64 KiB: 6.25 MiB)
and a function deploy (at most 1 MiB of code, which JSON escaping can make up to six
times larger for control characters, two or three times for non-ASCII text); 16 MiB
holds either with that escaping, and is still small for one worker to hold.
"""

_DIGITS: Final = re.compile(r"[0-9]+")
"""A Content-Length as RFC 9110 writes it: ASCII digits only (no sign, no spaces inside)."""


async def read_body(request: Request, *, limit: int, what: str, hint: str | None = None) -> bytes:
    """The request's body, or a 413 `body_too_large` as soon as it is known to pass `limit` bytes.

    `what` names the body in the message ("a storage object"); `hint` says how to fix
    it (by default: send less per request). A malformed Content-Length is a 400.
    """
    declared = declared_length(request)
    if declared is not None and declared > limit:
        raise _too_large(limit, what, hint, sent=f"its Content-Length is {declared:,} bytes")
    chunks: list[bytes] = []
    total = 0
    # aclosing: leaving the loop early closes Starlette's stream generator at once.
    async with aclosing(request.stream()) as stream:
        async for chunk in stream:
            total += len(chunk)
            if total > limit:
                raise _too_large(limit, what, hint, sent=f"more than {limit:,} bytes were sent")
            chunks.append(chunk)
    body = b"".join(chunks)
    # Kept where Starlette keeps a body it read, so request.body() still answers afterwards.
    request._body = body
    return body


def declared_length(request: Request) -> int | None:
    """The Content-Length the client sent (None without one), or a 400 if it is not one number."""
    values = {value.strip() for value in request.headers.getlist("content-length")}
    if not values:
        return None
    if len(values) > 1 or not all(_DIGITS.fullmatch(value) for value in values):
        raise ApiError(400, "invalid_content_length",
                       f"the Content-Length header must be one whole number of bytes, not {', '.join(sorted(values))!r}",
                       hint="send one Content-Length with the body's size in bytes, or none with chunked encoding")
    return int(values.pop())


def _too_large(limit: int, what: str, hint: str | None, *, sent: str) -> ApiError:
    return ApiError(413, "body_too_large", f"{what} may be at most {_amount(limit)}; {sent}",
                    hint=hint or f"send at most {limit:,} bytes per request: split the data over several requests",
                    limit_bytes=limit)


def _amount(limit: int) -> str:
    """`limit` for a reader: "16 MiB (16,777,216 bytes)", "1 MB (1,000,000 bytes)"."""
    for unit, name in ((MIB, "MiB"), (1024, "KiB"), (1_000_000, "MB")):
        if limit >= unit and limit % unit == 0:
            return f"{limit // unit} {name} ({limit:,} bytes)"
    return f"{limit:,} bytes"
