"""What the LLM agent shows its model: the system prompt, the step's opening, its tools, its secrets.

The model sees a step the way the seed's step page reads: the card, the context, the
actions as tools, and two tools of the engine's own: `complete_step(output)`, which
hands in the output, and `ask_user(question)` where the step may ask. Keys never reach
the model: a secret in the context or in an action's result is shown as a token
(`secret:service_key`) that the engine swaps back when the output is handed in.
A plan is checked like a bundled blueprint before it is handed in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

from appwright.steps import Step

from .blueprint import BlueprintError, validate_blueprint

__all__ = [
    "ASK_USER", "COMPLETE_STEP", "SYSTEM_PROMPT", "Secrets", "opening", "plan_problem", "shown_context", "tool_specs",
    "with_title",
]

COMPLETE_STEP: Final = "complete_step"
ASK_USER: Final = "ask_user"

SYSTEM_PROMPT: Final = """\
You are the builder inside appwright, a guided engine that builds and ships a full-stack web app on a \
Run402-style backend (Postgres, REST, auth, static hosting, paid with x402 micropayments), one step at a time.

Rules:
- You work on one step at a time; its card below says what to do. Do it by calling tools, never by \
describing calls in text.
- The step's actions are your tools. Each call is journaled and done exactly once; a refused call comes \
back as a tool result saying what is wrong: fix that and call again.
- Hand in the step's expected output with complete_step(output). The engine validates it and checks it \
against the backend; if it is refused you are told exactly why: fix it and call complete_step again. \
The step ends when complete_step is accepted.
- Secrets (keys) are held by the engine. Where a tool result or the context shows secret:NAME, write \
exactly that text; the engine fills in the value.
- Ask the user with ask_user only where the card says so, one short question at a time."""

_NOTE: Final = "(secret, held by the engine: write secret:{key} where the value is needed)"


def tool_specs(step: Step) -> list[dict[str, Any]]:
    """The step's tools in OpenAI function format: its actions, complete_step, and ask_user if it asks."""
    tools = [_function(a.name, a.description, a.args.model_json_schema()) for a in step.actions]
    tools.append(_function(
        COMPLETE_STEP, f"Hand in the output of step {step.id} ({step.title}); ends the step when accepted.",
        _wrapped("output", step.output.model_json_schema()),
    ))
    if step.asks_user:
        tools.append(_function(
            ASK_USER, "Ask the user one question and get their answer.",
            {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]},
        ))
    return tools


def _function(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    parameters = {k: v for k, v in parameters.items() if k != "title"}
    parameters.setdefault("properties", {})
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


def _wrapped(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    # `$defs` must stay at the root: the schema's `$ref`s point there.
    inner = dict(schema)
    defs = inner.pop("$defs", None)
    wrapped: dict[str, Any] = {"type": "object", "properties": {name: inner}, "required": [name]}
    if defs:
        wrapped["$defs"] = defs
    return wrapped


def opening(step: Step, card: str, context: dict[str, Any]) -> str:
    """The first user message of a step: its card and its context as JSON, secrets as notes."""
    shown = shown_context(step, context)
    return f"{card}\n\n## Context (JSON)\n\n{json.dumps(shown, indent=2, default=str)}"


def shown_context(step: Step, context: dict[str, Any]) -> dict[str, Any]:
    """The step's context as an agent may see it: each secret replaced by a note naming its token."""
    return {k: _NOTE.format(key=k) if k in step.secret_keys else v for k, v in context.items()}


@dataclass(kw_only=True)
class Secrets:
    """The step's secret values, shown to the model as `secret:NAME` tokens."""

    keys: frozenset[str]
    """The names that are secret (the step's `secret_keys`)."""
    values: dict[str, str] = field(default_factory=dict)
    """Token → value, from the context and from action results."""

    def remember(self, context: dict[str, Any]) -> None:
        """Keep the context's secrets, so that the model may hand them in by token."""
        self.hide(context)

    def hide(self, value: Any) -> Any:
        """`value` with every secret replaced by its token (the values are kept)."""
        if isinstance(value, dict):
            return {k: self._token(k, v) if k in self.keys and isinstance(v, str) else self.hide(v)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.hide(v) for v in value]
        return value

    def fill(self, value: Any) -> Any:
        """`value` with every token the model wrote replaced by the secret it stands for."""
        if isinstance(value, str):
            return self.values.get(value, value)
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        return value

    def _token(self, key: str, value: str) -> str:
        token = f"secret:{key}"
        self.values[token] = value
        return token


# The plan's pieces, by the blueprint field each one becomes.
_PLAN_FIELDS: Final = {
    "tables": "table_plan", "rls": "rls_plan", "seed": "seed_plan", "site": "site_plan",
    "feedback": "feedback_plan", "functions": "function_plan", "name": "app.name", "title": "app.title",
    "description": "app.description", "subdomain": "app.subdomain",
}


def plan_problem(output: dict[str, Any]) -> str | None:
    """What makes a plan an invalid blueprint, with the plan's field names; None if it is valid."""
    if not isinstance(output, dict):
        return "the output must be a JSON object with app, table_plan, rls_plan, seed_plan, site_plan"
    app = output.get("app") if isinstance(output.get("app"), dict) else {}
    data = {
        "name": app.get("name"), "title": app.get("title"), "description": app.get("description"),
        "subdomain": app.get("subdomain") or "", "tables": output.get("table_plan"),
        "rls": output.get("rls_plan") or [], "seed": output.get("seed_plan") or [],
        "site": output.get("site_plan"), "feedback": output.get("feedback_plan") or "(asked at the end)",
        "functions": output.get("function_plan") or [],
    }
    try:
        validate_blueprint(data)
    except BlueprintError as error:
        where = re.sub(r"^[a-z_]+", lambda m: _PLAN_FIELDS.get(m.group(0), m.group(0)), error.field or "")
        message = str(error).removeprefix(f"{error.field}: ") if error.field else str(error)
        return f"the plan is not a valid app: {where + ': ' if where else ''}{message}"
    return None


def with_title(output: dict[str, Any]) -> dict[str, Any]:
    """The plan with {{APP_TITLE}} filled in its site files, as a bundled blueprint's plan has it."""
    title = str((output.get("app") or {}).get("title", ""))
    files = [
        {**f, "data": f["data"].replace("{{APP_TITLE}}", title)}
        if isinstance(f, dict) and isinstance(f.get("data"), str) and f.get("encoding", "utf-8") == "utf-8" else f
        for f in output.get("site_plan") or []
    ]
    return {**output, "site_plan": files}
