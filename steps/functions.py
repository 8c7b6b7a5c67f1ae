"""Serverless functions in the deploy step: the `deploy_function` action and its checks.

A planned function (`function_plan`: ``[{name, code, config}]``, from the plan step) is
a JavaScript module whose default export takes a `Request` and returns a `Response`.
The deploy step deploys each one by name (``POST /admin/v1/projects/:id/functions``,
service key, free), then hands in ``functions: [{name, url}]``, which its verify checks
against the backend: each planned function is deployed at that URL, and answers a GET
made with the anon key without a 5xx (it loads, does not throw, does not hang).

The platform's deploy route is an upsert (create or replace the same name with the same
code) and takes no Idempotency-Key, so the journal's resend of a cut-off call is
harmless: it replaces the function with itself.

A function's code never refers to the service key, by the site's gate
(`sitecheck.service_key_reference`, plus the real key here): a function is public, so
what it read with the service key it would hand to anyone. It reads with the key its
caller sends.
"""

from __future__ import annotations

import re
from typing import Any, Final

from pydantic import BaseModel, Field

from appwright.platforms.run402 import ApiError

from .base import Action, ActionContext, ActionFailed, VerifyFailed
from .calls import as_dict
from .sitecheck import service_key_reference

__all__ = [
    "DEPLOY_FUNCTION", "FUNCTION_NAME", "DeployedFunction", "function_code_problem", "function_plan_problem",
    "verify_functions",
]

FUNCTION_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
"""The platform's rule for a function's name."""
MAX_CODE_BYTES: Final = 1024 * 1024
"""The largest module the platform takes."""
# `export default <expr>` or `export { x as default }`: what the platform imports.
_DEFAULT_EXPORT: Final = re.compile(r"\bexport\s+default\b|\bexport\s*\{[^}]*\bas\s+default\b")


def function_code_problem(code: str, service_key: str | None = None) -> str | None:
    """What makes `code` unfit to deploy as a function, in words; None if nothing."""
    if not code.strip():
        return "the code is empty"
    if len(code.encode()) > MAX_CODE_BYTES:
        return f"the code is larger than {MAX_CODE_BYTES} bytes"
    found = service_key_reference(code, service_key)
    if found:
        return (
            f"refers to the service key ({found}): a function is public (anyone with the anon key calls it), "
            "so it must read with the key its caller sends, req.headers.get('apikey'), under RLS"
        )
    if not _DEFAULT_EXPORT.search(code):
        return "the module has no default export: `export default async (req) => new Response(...)`"
    return None


def function_plan_problem(plan: list[dict[str, Any]], service_key: str | None = None) -> str | None:
    """The first problem of a function_plan, naming the entry; None if it is fine."""
    seen: set[str] = set()
    for index, entry in enumerate(plan):
        name, code = entry.get("name"), entry.get("code")
        if not isinstance(name, str) or not FUNCTION_NAME.match(name):
            return (f"function_plan[{index}].name: {name!r} is not a function name (1-63 lowercase letters, "
                    "digits, - and _, starting with a letter or digit)")
        if name in seen:
            return f"function_plan[{index}].name: {name!r} is planned twice"
        seen.add(name)
        problem = function_code_problem(code, service_key) if isinstance(code, str) else "code must be a string"
        if problem:
            return f"function_plan[{index}].code ({name}): {problem}"
        if not isinstance(entry.get("config", {}), dict):
            return f"function_plan[{index}].config ({name}): must be an object (timeout_s, memory_mb)"
    return None


class DeployFunctionArgs(BaseModel):
    """Which planned function to deploy; its code comes from memory (function_plan)."""

    name: str = Field(description="A function of function_plan.")


async def deploy_function(ctx: ActionContext, args: DeployFunctionArgs) -> dict[str, Any]:
    plan = list(ctx.facts.get("function_plan") or [])
    entry = next((f for f in plan if f.get("name") == args.name), None)
    if entry is None:
        planned = ", ".join(str(f.get("name")) for f in plan) or "none"
        raise ActionFailed(f"no function {args.name!r} in function_plan (planned: {planned})")
    # The last gate before the code leaves: this step holds the real service key.
    problem = function_plan_problem([entry], service_key=ctx.facts["service_key"])
    if problem:
        raise ActionFailed(f"not deployed, nothing was sent: {problem}; the plan must fix it")
    client = await ctx.backend.client()
    deployed = await client.functions.deploy(
        ctx.facts["project_id"], ctx.facts["service_key"], args.name, entry["code"], config=entry.get("config") or None,
    )
    return as_dict(deployed)


DEPLOY_FUNCTION: Final = Action(
    name="deploy_function",
    description="Deploy one function of function_plan by name (free; create or replace). Returns its url.",
    args=DeployFunctionArgs, run=deploy_function,
    summary=lambda r: f"function {r.get('name')} at {r.get('url')}",
)


class DeployedFunction(BaseModel):
    """A function live on the backend."""

    name: str
    url: str


async def verify_functions(ctx: ActionContext, functions: list[DeployedFunction]) -> None:
    """Each planned function is deployed at the URL given, and answers (no 5xx)."""
    planned = [str(f.get("name")) for f in ctx.facts.get("function_plan") or []]
    given = [f.name for f in functions]
    if sorted(given) != sorted(planned):
        raise VerifyFailed(f"functions must list each planned function once: planned {planned}, listed {given}")
    if not functions:
        return
    client = await ctx.backend.client()
    live = {f.name: f.url for f in (await client.functions.list(ctx.facts["project_id"], ctx.facts["service_key"]))
            .functions}
    for function in functions:
        if live.get(function.name) != function.url:
            where = live.get(function.name)
            raise VerifyFailed(f"function {function.name} is not deployed at {function.url} "
                               f"({'it is at ' + where if where else 'the project has no such function'})")
        await _answers(client, function.name, ctx.facts["anon_key"])


async def _answers(client: Any, name: str, anon_key: str) -> None:
    try:
        await client.functions.invoke(name, anon_key, method="GET")
    except ApiError as error:
        # A 4xx is the function's own answer to a bare GET; a 5xx means it threw, hung or crashed.
        if error.status >= 500:
            raise VerifyFailed(f"function {name} does not answer: {error}") from None
