"""The tiers of the seed's pricing table, and the other prices of the platform."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from .errors import ApiError

__all__ = ["Tier", "TIERS", "get_tier", "DEPLOYMENT_PRICE", "MESSAGE_PRICE", "IMAGE_PRICE"]

MB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Tier:
    """One pricing tier: what a project of this tier costs and may use."""

    name: str
    """The tier's id as it appears in URLs: prototype, hobby, team."""
    price_micros: int
    """Price of creating or renewing, in micro-USD (1 USD = 1,000,000)."""
    lease: timedelta
    """How long a project stays active after creation or renewal."""
    storage_bytes: int
    """Storage quota."""
    api_calls: int
    """API-call quota per lease."""
    functions: int
    """How many serverless functions the project may have."""

    @property
    def price_usd(self) -> str:
        """The price as the seed writes it, e.g. "0.10"."""
        return f"{self.price_micros / 1_000_000:.2f}"


TIERS: dict[str, Tier] = {
    t.name: t
    for t in (
        Tier(name="prototype", price_micros=100_000, lease=timedelta(days=7),
             storage_bytes=250 * MB, api_calls=500_000, functions=5),
        Tier(name="hobby", price_micros=5_000_000, lease=timedelta(days=30),
             storage_bytes=1024 * MB, api_calls=5_000_000, functions=25),
        Tier(name="team", price_micros=20_000_000, lease=timedelta(days=30),
             storage_bytes=10 * 1024 * MB, api_calls=50_000_000, functions=100),
    )
}

DEPLOYMENT_PRICE = 50_000
"""A standalone site deployment, in micro-USD."""
MESSAGE_PRICE = 10_000
"""A message to the platform's developers, in micro-USD."""
IMAGE_PRICE = 30_000
"""One generated image, in micro-USD."""

GRACE = timedelta(days=7)
"""After its lease ends a project is read-only for this long, then archived."""


def get_tier(name: str) -> Tier:
    """The tier called `name`, or a 400 naming the valid ones."""
    try:
        return TIERS[name]
    except KeyError:
        raise ApiError(
            400, "unknown_tier", f"unknown tier {name!r}",
            hint=f"use one of: {', '.join(TIERS)}",
        ) from None
