"""AltaTech's own step declarations: their cards read like the others, true to the declaration."""

from __future__ import annotations

from importlib import resources

import pytest

from appwright.steps import STEPS, Step
from appwright.steps.platforms import PLATFORM_STEPS, for_platform, skip_reason

SECTIONS = ("## Context", "## What to do", "## Rules", "## What to tell the user", "## Expected output",
            "## Memory directive")
by_id = pytest.mark.parametrize("step", PLATFORM_STEPS, ids=[str(s.id) for s in PLATFORM_STEPS])


def card(step: Step) -> str:
    return resources.files("appwright.prompts").joinpath(f"{step.prompt}.md").read_text()


@by_id
def test_card_reads_like_the_seeds_page(step: Step) -> None:
    lines = card(step).splitlines()
    assert lines[0] == f"# Step {step.number}: {step.title} (AltaTech)"
    assert [line for line in lines if line.startswith("## ")] == list(SECTIONS)
    assert card(step).count("{context}") == 1


@by_id
def test_card_names_every_action_and_stored_key(step: Step) -> None:
    text = card(step)
    assert all(f"`{a.name}`" in text for a in step.actions)
    assert all(f"`{key}`" in text for key in step.memory.store)


def test_every_step_runs_or_is_skipped_with_a_reason_on_altatech() -> None:
    ran = [s.id for s in STEPS if skip_reason(s, "altatech") is None]
    assert ran == ["plan", "provision", "create_tables", "seed"]
    assert all(for_platform(s, "altatech") is not s for s in STEPS if s.id in ran[1:])
    assert all(for_platform(s, "run402") is s and skip_reason(s, "run402") is None for s in STEPS)


def test_api_key_is_a_secret() -> None:
    provision = for_platform(STEPS[1], "altatech")
    assert "api_key" in provision.memory.secret and "api_key" in provision.secret_keys
