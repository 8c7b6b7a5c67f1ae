"""Choosing the LLM: `PROVIDER:MODEL` names a langchain chat model, or a clear error says why not.

Each provider comes with an optional extra (`pip install 'appwright[anthropic]'`) and
reads its usual API key variable. Everything is checked before a run is recorded, so
that a missing package or key is an error at the command line, not a failed step.

    model = chat_model("anthropic:claude-sonnet-4-5")   # ChatAnthropic, ANTHROPIC_API_KEY
    model = chat_model("openai:gpt-4.1")                 # ChatOpenAI, OPENAI_API_KEY
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["PROVIDERS", "ModelError", "Provider", "chat_model", "parse_model_spec"]


class ModelError(ValueError):
    """The model cannot be used as asked; the message says what to install, set or write."""


@dataclass(frozen=True, kw_only=True)
class Provider:
    """A model provider: its langchain package, its chat model class and its key."""

    name: str
    """As written before the colon, e.g. `anthropic`."""
    module: str
    """The langchain integration package, e.g. `langchain_anthropic`."""
    class_name: str
    """Its chat model class, e.g. `ChatAnthropic`."""
    key_variable: str
    """The environment variable holding the API key."""
    options: tuple[tuple[str, Any], ...] = ()
    """Extra constructor arguments (e.g. room for a whole plan in one answer)."""

    @property
    def install(self) -> str:
        """The command that installs this provider's extra."""
        return f"pip install 'appwright[{self.name}]'"


PROVIDERS: Final[dict[str, Provider]] = {
    "anthropic": Provider(
        name="anthropic", module="langchain_anthropic", class_name="ChatAnthropic",
        # A plan carries the site's files: the default answer length is too short for it.
        key_variable="ANTHROPIC_API_KEY", options=(("max_tokens", 16_384),),
    ),
    "openai": Provider(
        name="openai", module="langchain_openai", class_name="ChatOpenAI", key_variable="OPENAI_API_KEY",
    ),
}
"""The providers `--model` knows, by name."""


def parse_model_spec(spec: str) -> tuple[Provider, str]:
    """(provider, model name) of `PROVIDER:MODEL`, or a `ModelError` listing the known providers."""
    known = ", ".join(sorted(PROVIDERS))
    name, colon, model = spec.partition(":")
    if not colon or not name or not model:
        raise ModelError(f"--model takes PROVIDER:MODEL, e.g. anthropic:claude-sonnet-4-5 (providers: {known})")
    provider = PROVIDERS.get(name.strip().lower())
    if provider is None:
        raise ModelError(f"unknown model provider {name!r}; known providers: {known}")
    return provider, model.strip()


def chat_model(spec: str) -> Any:
    """The chat model `spec` names (a langchain `BaseChatModel`); `ModelError` if it cannot be had."""
    provider, model = parse_model_spec(spec)
    try:
        module = importlib.import_module(provider.module)
    except ImportError:
        raise ModelError(
            f"{provider.name} models need the {provider.module.replace('_', '-')} package: {provider.install}"
        ) from None
    if not os.environ.get(provider.key_variable, "").strip():
        raise ModelError(f"{spec} needs an API key: set {provider.key_variable}")
    return getattr(module, provider.class_name)(model=model, **dict(provider.options))
