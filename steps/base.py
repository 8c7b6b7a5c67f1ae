"""What a step is: a declaration that reads like the seed's step page.

A step names its number, id, title and phase; the memory keys it needs (its
context); its prompt card; the actions the agent may call; the output it must hand
in (a pydantic model), checked against the backend by its `verify`; what to tell
the user; and its memory directive. The engine runs it: it hands the step exactly
its context, journals every action, validates and verifies the output, applies the
directive, and logs everything. A step never touches the memory store itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from appwright.memory import MemoryDirective, StepId

__all__ = [
    "Backend",
    "Phase",
    "Action",
    "ActionContext",
    "Step",
    "VerifyFailed",
    "ActionFailed",
]

Phase = Literal["plan", "implement", "deploy", "iterate"]


class VerifyFailed(Exception):
    """The output does not match what the backend says; the message says how."""


class ActionFailed(Exception):
    """An action was refused before it reached the backend; the message says why."""


class Backend(Protocol):
    """The run's way to the platform: its API base, tier and a paying client."""

    platform: str
    """run402 or altatech: which declaration of a step runs, or whether it is skipped (`steps.platforms`)."""
    api: str
    """The API base, e.g. http://127.0.0.1:8402."""
    tier: str
    """The tier to provision: prototype, hobby or team."""
    network: str
    """The x402 network payments are made on."""

    async def client(self) -> Any:
        """The platform's client: a Run402 client paying with the run's wallet, or an AltaTech client."""
        ...

    async def get(self, url: str) -> tuple[int, str]:
        """GET a URL the app is served at (also `*.localhost` hosts); (status, text)."""
        ...


@dataclass(frozen=True, kw_only=True)
class ActionContext:
    """What an action (and a verify) may use: the step's context and the backend."""

    backend: Backend
    """The platform of this run."""
    facts: Mapping[str, Any]
    """The step's context: the memory keys it declared, and nothing else."""
    idempotency_key: str | None = None
    """The key of this call, derived from run, step and call number (actions only)."""


ActionFn = Callable[[ActionContext, Any], Awaitable[dict[str, Any]]]
VerifyFn = Callable[[ActionContext, Any], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class Action:
    """A tool the agent may call in a step: a thin, journaled call into the client."""

    name: str
    """The tool's name, e.g. `run_sql`."""
    description: str
    """What it does, for the agent."""
    args: type[BaseModel]
    """Its arguments; validated before the call is journaled."""
    run: ActionFn
    """The call itself; returns a JSON-able result."""
    paid: bool = False
    """Whether it may charge the wallet (its receipt goes to the payments ledger)."""
    summary: Callable[[dict[str, Any]], str] = lambda result: ", ".join(sorted(result))
    """A one-line summary of a result, for the step log."""


@dataclass(frozen=True, kw_only=True)
class Step:
    """One phase of a build, declared the way the seed's step page reads."""

    number: int
    """Its place in the route, from 1."""
    id: StepId
    """Its id: plan, provision, create_tables, …"""
    title: str
    """Its page title, e.g. "Create Database Tables"."""
    phase: Phase
    """plan, implement, deploy or iterate."""
    context: tuple[str, ...]
    """The memory keys the step needs; the engine hands it these and nothing else."""
    optional_context: tuple[str, ...] = ()
    """Keys the step uses when memory has them (e.g. a change request on a second pass)."""
    actions: tuple[Action, ...]
    """The tools the agent may call."""
    output: type[BaseModel]
    """The expected output, validated by the engine."""
    verify: VerifyFn
    """Checks the output against the backend; raises VerifyFailed."""
    tell_user: str
    """What to tell the user, a format string over the output's fields."""
    memory: MemoryDirective
    """carry_forward / store / discard, applied by the engine."""
    asks_user: bool = False
    """Whether the step may ask the user a question."""
    secret_fields: frozenset[str] = field(default_factory=frozenset)
    """Output fields that are secrets (never shown, redacted in the log)."""
    prompt: str | None = None
    """The prompt card's name when it is not the id (a platform's own declaration of the step)."""

    def action(self, name: str) -> Action:
        """The action called `name`, or an error listing the step's actions."""
        for action in self.actions:
            if action.name == name:
                return action
        names = ", ".join(a.name for a in self.actions) or "none"
        raise ActionFailed(f"step {self.id} has no action {name!r}; its actions are: {names}")

    def card(self, facts: Mapping[str, Any]) -> str:
        """The prompt card, rendered with the step's context (secrets shown as names only)."""
        template = resources.files("appwright.prompts").joinpath(f"{self.prompt or self.id}.md").read_text()
        return template.replace("{context}", _context_lines(facts, self.secret_keys))

    @property
    def secret_keys(self) -> frozenset[str]:
        """Memory keys whose values must never be shown."""
        return frozenset({"anon_key", "service_key", "api_key"}) | self.secret_fields

    def message(self, output: BaseModel) -> str:
        """What to tell the user, filled from the output."""
        return self.tell_user.format(**output.model_dump())


def _context_lines(facts: Mapping[str, Any], secrets: frozenset[str]) -> str:
    if not facts:
        return "(nothing yet)"
    lines = []
    for key, value in facts.items():
        shown = "(secret, held by the engine)" if key in secrets else _short(value)
        lines.append(f"- {key}: {shown}")
    return "\n".join(lines)


def _short(value: Any, limit: int = 400) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + " …"
