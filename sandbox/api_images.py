"""`POST /v1/generate-image` (x402, $0.03): a placeholder PNG for the prompt.

Checked before payment (a bad prompt or aspect costs nothing), then paid like every
paid route: the charge and the stored answer commit together, and the same
Idempotency-Key from the same payer gets the same image again without a second charge.
"""

from __future__ import annotations

import base64
from typing import Any

import asyncpg
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from . import x402
from .context import json_body, sandbox_of
from .errors import ApiError
from .images import ASPECTS, placeholder_png
from .paid import Charge, PaidResult, run_paid
from .routing import Router
from .tiers import IMAGE_PRICE

__all__ = ["router", "MAX_PROMPT_CHARS", "PLACEHOLDER_NOTE"]

router = Router()

MAX_PROMPT_CHARS = 1000
PLACEHOLDER_NOTE = (
    "sandbox placeholder: the local sandbox has no image model; this PNG is drawn from the "
    "prompt's hash (the same prompt and aspect always give the same image)"
)


@router.post("/v1/generate-image")
async def generate_image(request: Request) -> Response:
    """A PNG for `{prompt, aspect?}` (square, landscape or portrait; square by default)."""
    sandbox = sandbox_of(request)
    body = await json_body(request)
    prompt, aspect = _prompt(body.get("prompt")), _aspect(body.get("aspect", "square"))

    async def work(conn: asyncpg.Connection, payment: x402.VerifiedPayment) -> PaidResult:
        png = await run_in_threadpool(placeholder_png, prompt, aspect)
        width, height = ASPECTS[aspect]
        return PaidResult(body={
            "image": base64.b64encode(png).decode("ascii"), "content_type": "image/png",
            "aspect": aspect, "width": width, "height": height,
            "placeholder": True, "note": PLACEHOLDER_NOTE,
        })

    charge = Charge(amount_micros=IMAGE_PRICE, description="generate image")
    return await run_paid(request, sandbox.pool, charge, work, network=sandbox.network)


def _prompt(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "invalid_prompt", "prompt must be a non-empty string",
                       hint='send {"prompt": "a cat in a top hat", "aspect": "square"}')
    if len(value) > MAX_PROMPT_CHARS:
        raise ApiError(400, "prompt_too_long",
                       f"the prompt has {len(value)} characters; at most {MAX_PROMPT_CHARS} are allowed")
    return value


def _aspect(value: Any) -> str:
    if value not in ASPECTS:
        raise ApiError(400, "invalid_aspect", f"unknown aspect {value!r}",
                       hint=f"use one of: {', '.join(ASPECTS)} (square by default)")
    return str(value)
