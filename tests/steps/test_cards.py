"""The prompt cards: one per step, shaped like the seed's step page, true to the declaration."""

from __future__ import annotations

from importlib import resources

import pytest

from appwright.steps import STEPS, Step
from appwright.steps.platforms import PLATFORM_STEPS

SECTIONS = (
    "## Context",
    "## What to do",
    "## Rules",
    "## What to tell the user",
    "## Expected output",
    "## Memory directive",
)

by_id = pytest.mark.parametrize("step", STEPS, ids=[str(s.id) for s in STEPS])


def card_text(step: Step) -> str:
    return resources.files("appwright.prompts").joinpath(f"{step.id}.md").read_text()


def section(text: str, heading: str) -> str:
    """The body of one `## ` section, up to the next one."""
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    end = text.find("\n## ", start)
    return text[start:] if end == -1 else text[start:end]


@by_id
def test_card_file_exists(step: Step) -> None:
    assert resources.files("appwright.prompts").joinpath(f"{step.id}.md").is_file()


def test_no_card_without_a_step() -> None:
    cards = {p.name for p in resources.files("appwright.prompts").iterdir() if p.name.endswith(".md")}
    assert cards == {f"{s.prompt or s.id}.md" for s in (*STEPS, *PLATFORM_STEPS)}


@by_id
def test_title_and_phase(step: Step) -> None:
    lines = card_text(step).splitlines()
    assert lines[0] == f"# Step {step.number}: {step.title}"
    assert [line for line in lines if line.startswith("Phase:")] == [f"Phase: {step.phase}"]


@by_id
def test_sections_in_order(step: Step) -> None:
    lines = card_text(step).splitlines()
    headings = [line for line in lines if line.startswith("#")]
    assert headings == [f"# Step {step.number}: {step.title}", *SECTIONS]
    assert lines.index(f"Phase: {step.phase}") < lines.index(SECTIONS[0])


@by_id
def test_context_placeholder_once_on_its_own_line(step: Step) -> None:
    text = card_text(step)
    assert text.count("{context}") == 1
    context = section(text, "## Context")
    assert "{context}" in context.splitlines()
    # A sentence on what the agent has comes before the inserted lines.
    assert context.split("{context}")[0].strip()


@by_id
def test_names_every_action(step: Step) -> None:
    todo = section(card_text(step), "## What to do")
    for action in step.actions:
        assert f"`{action.name}`" in todo, f"{step.id}: What to do does not name {action.name}"


@by_id
def test_names_no_foreign_action(step: Step) -> None:
    # An agent told to call another step's action would be refused: the card names only its own.
    own = {a.name for a in step.actions}
    foreign = {a.name for s in STEPS for a in s.actions} - own
    text = card_text(step)
    assert not [name for name in foreign if f"`{name}`" in text]


@by_id
def test_asks_user_only_where_declared(step: Step) -> None:
    assert ("`ask_user`" in card_text(step)) == step.asks_user


@by_id
def test_completes_with_complete_step(step: Step) -> None:
    assert "complete_step(" in section(card_text(step), "## What to do")


@by_id
def test_tell_user_is_the_declaration(step: Step) -> None:
    tell = section(card_text(step), "## What to tell the user").strip()
    assert tell == f'"{step.tell_user}"'


@by_id
def test_expected_output_names_every_field(step: Step) -> None:
    expected = section(card_text(step), "## Expected output")
    for name in step.output.model_fields:
        assert f"- `{name}`" in expected, f"{step.id}: Expected output does not list {name}"


@by_id
def test_memory_directive_lists_every_key(step: Step) -> None:
    memory = section(card_text(step), "## Memory directive")
    lines = {line.split(":", 1)[0]: line for line in memory.splitlines() if line.startswith("- ")}
    for kind in ("carry_forward", "store", "discard"):
        line = lines.get(f"- {kind}")
        assert line is not None, f"{step.id}: no {kind} line"
        keys = getattr(step.memory, kind)
        for key in keys:
            assert f"`{key}`" in line, f"{step.id}: {kind} does not list {key}"
        if not keys:
            assert "(none)" in line
    # Only the declared keys, and each in its own list.
    listed = {kind: {part.strip("`") for part in lines[f"- {kind}"].split("`")[1::2]}
              for kind in ("carry_forward", "store", "discard")}
    for kind, keys in listed.items():
        assert keys == set(getattr(step.memory, kind)), f"{step.id}: {kind} lists {sorted(keys)}"


@by_id
def test_rules_are_not_empty(step: Step) -> None:
    rules = section(card_text(step), "## Rules")
    assert sum(line.startswith("- ") for line in rules.splitlines()) >= 3


@by_id
def test_card_is_tight(step: Step) -> None:
    assert 30 <= len(card_text(step).splitlines()) <= 100


@by_id
def test_renders_without_placeholder_or_secret(step: Step) -> None:
    rendered = step.card({"project_id": "prj_1", "service_key": "secret-value"})
    assert "{context}" not in rendered
    assert "secret-value" not in rendered
    assert "- project_id: prj_1" in rendered
    assert "- service_key: (secret, held by the engine)" in rendered


@by_id
def test_renders_with_nothing_yet(step: Step) -> None:
    assert "(nothing yet)" in step.card({})


def test_sql_rules_are_the_seeds() -> None:
    rules = section(card_text(_step("create_tables")), "## Rules")
    for line in (
        "Allowed: CREATE TABLE, ALTER TABLE, CREATE INDEX, INSERT (for seed data), UPDATE, DELETE, SELECT",
        "Blocked (will return 403): CREATE EXTENSION, COPY PROGRAM, ALTER SYSTEM, SET search_path, SET role, "
        "CREATE/DROP SCHEMA, GRANT/REVOKE, CREATE/DROP ROLE",
        "Use gen_random_uuid() for UUID primary keys",
        "Use timestamptz for timestamps",
        "Use text for strings",
        "Use jsonb for flexible/nested data",
    ):
        assert line in rules


def test_provision_order_and_wallet_rules() -> None:
    text = card_text(_step("provision"))
    todo = section(text, "## What to do")
    order = [todo.index(f"`{name}`") for name in ("ensure_wallet", "wallet_balance", "fund_wallet", "create_project")]
    assert order == sorted(order)
    rules = section(text, "## Rules")
    for phrase in ("24 h", "eip155:84532", "Base Sepolia", "Idempotency-Key", "Testnet by default"):
        assert phrase in rules


def test_rls_templates() -> None:
    rules = section(card_text(_step("rls")), "## Rules")
    for template in ("user_owns_rows", "public_read", "public_read_write"):
        assert f"- `{template}` — " in rules


def test_site_rules() -> None:
    rules = section(card_text(_step("site")), "## Rules")
    for phrase in ("{{API_URL}}", "{{ANON_KEY}}", "`apikey`", "Authorization: Bearer", "access_token",
                   "Never the service key", "`index.html` is required", "HTML must parse", "No external CDNs",
                   "share button"):
        assert phrase in rules


def test_subdomain_rules() -> None:
    rules = section(card_text(_step("subdomain")), "## Rules")
    assert "3–63 characters" in rules
    assert "api, www, admin, sites, mail, ftp, cdn, static" in rules


def test_feedback_rules() -> None:
    text = card_text(_step("feedback"))
    assert "$0.01" in text
    assert "`change_request`" in section(text, "## Rules")
    assert "site step" in section(text, "## Rules")


def test_plan_output_shape() -> None:
    expected = section(card_text(_step("plan")), "## Expected output")
    for shape in ("{name, title, description, subdomain}", "[{name, sql, columns}]",
                  "[{table, template, owner_column}]", "[{table, rows}]", "[{file, data, encoding}]"):
        assert shape in expected


def _step(step_id: str) -> Step:
    return next(s for s in STEPS if s.id == step_id)
