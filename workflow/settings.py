"""How a run was asked for: its settings, kept so that a resume rebuilds the same run.

Its own module, apart from the runner, so that commands which only read a run (the
shell verbs, `appwright step`) need not load LangGraph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from appwright.memory import MemoryStore, RunId

__all__ = ["SETTINGS_KEY", "AgentKind", "Platform", "RunSettings", "SettingsError", "load_settings"]

SETTINGS_KEY = "run_settings"
"""The memory fact that holds a run's settings (read by the runner, never by a step)."""

AgentKind = Literal["blueprint", "llm", "outside"]
"""Who completes the steps: the blueprint agent, an LLM, or an outside agent (MCP, shell)."""

Platform = Literal["run402", "altatech"]
"""The backend a build runs on."""


class SettingsError(ValueError):
    """The run was asked for in a way that cannot work; the message says how to fix it."""


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """How a run was asked for; kept so that a resume rebuilds the same run."""

    blueprint: str | None = None
    """A bundled blueprint's name or a path to one (the blueprint agent needs one)."""
    api: str
    """The API base."""
    agent: AgentKind = "blueprint"
    """Who completes the steps."""
    idea: str | None = None
    """The one-line idea an LLM or an outside agent plans the app from."""
    model: str | None = None
    """The LLM, as PROVIDER:MODEL (the LLM agent only)."""
    max_turns: int = 24
    """Model turns one step may take before the run stops, resumable (the LLM agent only)."""
    embedded: bool = False
    """Whether the API is a sandbox the run starts itself."""
    tier: str = "prototype"
    """The tier to provision."""
    budget_micros: int = 1_000_000
    """What the whole run may spend."""
    network: str = "eip155:84532"
    """The x402 network."""
    yes: bool = False
    """Accept confirmations without asking."""
    platform: Platform = "run402"
    """The backend the app is built on: run402 (the whole route) or altatech (tables and rows only)."""

    def as_fact(self) -> dict[str, Any]:
        """The settings as a memory fact."""
        return dict(self.__dict__)

    def check(self) -> None:
        """Refuse settings that cannot make a run, saying what to change."""
        if self.agent == "blueprint" and not self.blueprint:
            raise SettingsError("the blueprint agent needs --blueprint NAME|PATH (or give an idea with --model)")
        if self.agent == "llm" and not self.model:
            raise SettingsError("the LLM agent needs --model PROVIDER:MODEL, e.g. anthropic:claude-sonnet-4-5")
        if self.agent != "blueprint" and not (self.idea or self.blueprint):
            raise SettingsError("say what to build: an idea (\"a shared shopping list\") or --blueprint NAME|PATH")
        if self.platform not in ("run402", "altatech"):
            raise SettingsError(f"unknown platform {self.platform!r}: use run402 or altatech")
        if self.platform == "altatech" and self.agent != "blueprint":
            raise SettingsError("--platform altatech builds from a blueprint (--blueprint NAME|PATH): "
                                "the LLM and outside agents drive Run402 builds only")
        if self.max_turns < 1:
            raise SettingsError("--max-turns must be at least 1")


def load_settings(store: MemoryStore, run_id: RunId) -> RunSettings:
    """The settings a run was started with."""
    facts = store.get_facts(run_id, [SETTINGS_KEY])
    return RunSettings(**facts[SETTINGS_KEY])
