"""Image generation: `Run402.images.generate(prompt, aspect, output=...)` (x402, $0.03).

The seed's `POST /v1/generate-image` answers with a base64 PNG; this writes it to a
file and returns where, with the payment's receipt. The local sandbox has no image
model: its PNG is a placeholder drawn from the prompt (`placeholder` says so).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Literal, TypeAlias

from .run402_http import Call, Sender, parse
from .run402_models import Paid

__all__ = ["Aspect", "GeneratedImage", "ImagesApi"]

Aspect: TypeAlias = Literal["square", "landscape", "portrait"]


class GeneratedImage(Paid):
    """A generated image, written to a file."""

    path: Path
    """The PNG file it was written to."""
    content_type: str
    """`image/png`."""
    aspect: str
    """square (1:1), landscape (16:9) or portrait (9:16)."""
    size: int
    """The file's size in bytes."""
    placeholder: bool = False
    """True when the server had no image model and drew a placeholder (the local sandbox)."""
    note: str | None = None
    """What the server says about the image, if anything."""


class ImagesApi:
    """`/v1/generate-image`."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    async def generate(
        self, prompt: str, output: str | os.PathLike[str], *, aspect: Aspect = "square", idempotency_key: str,
    ) -> GeneratedImage:
        """Generate an image for `prompt` (at most 1000 characters) and write it to `output` (paid: $0.03)."""
        if not idempotency_key or not idempotency_key.strip():
            raise ValueError("idempotency_key must be a non-empty string (derive it from run, step and call number)")
        answer = await self._sender.send(Call(
            route="generate_image", json={"prompt": prompt, "aspect": aspect}, idempotency_key=idempotency_key,
        ))
        data = answer.data if isinstance(answer.data, dict) else {}
        png = base64.b64decode(str(data.get("image", "")), validate=True)
        target = Path(output)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written whole, then renamed: a cut-off write never leaves half a PNG under the name.
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(png)
        partial.replace(target)
        return parse(GeneratedImage, answer, path=target, size=len(png))
