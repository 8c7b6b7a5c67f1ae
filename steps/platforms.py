"""Which declaration of a step runs on which platform, and which steps a platform skips.

The route is the same nine steps everywhere. On Run402 every step runs as declared. On
AltaTech, provision, create_tables and seed run AltaTech's own declarations
(`steps.altatech`), and the steps AltaTech has no counterpart for are skipped, each
with the reason the step log and the user are given.
"""

from __future__ import annotations

from typing import Final

from .altatech import CREATE_TABLES_ALTATECH, PROVISION_ALTATECH, SEED_ALTATECH
from .base import Step

__all__ = ["PLATFORMS", "PLATFORM_STEPS", "for_platform", "skip_reason"]

PLATFORMS: Final = ("run402", "altatech")
"""The platforms a build runs on."""

_VARIANTS: Final[dict[str, dict[str, Step]]] = {
    "altatech": {s.id: s for s in (PROVISION_ALTATECH, CREATE_TABLES_ALTATECH, SEED_ALTATECH)},
}

PLATFORM_STEPS: Final = tuple(step for steps in _VARIANTS.values() for step in steps.values())
"""Every platform's own declarations of steps (each with its own prompt card)."""

_SKIPPED: Final[dict[str, dict[str, str]]] = {
    "altatech": {
        "rls": "AltaTech has no row-level security: its tables are reached only with the project's API key, "
               "which stays with the engine",
        "site": "AltaTech hosts no static sites: its tables serve an AI agent, not a web page",
        "deploy": "AltaTech has no site deployments",
        "subdomain": "AltaTech has no subdomains to claim",
        "feedback": "AltaTech has no route for messages to its developers, and there is no hosted app to try",
    },
}


def for_platform(step: Step, platform: str) -> Step:
    """The declaration of `step` that runs on `platform`."""
    return _VARIANTS.get(platform, {}).get(step.id, step)


def skip_reason(step: Step, platform: str) -> str | None:
    """Why `platform` skips `step`, or None when the step runs there."""
    return _SKIPPED.get(platform, {}).get(step.id)
