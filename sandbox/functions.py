"""Serverless functions of a project: `{name, code, config?}`, checked and stored.

A function is checked before it is stored: its module is imported once by Node
(with the secrets it will run with) and must have a default export function, so a
syntax error or a missing export is a 400 at deploy time, not a 500 at its first call.
`config` may set `timeout_s` (1–30, default 10) and `memory_mb` (32–512, default
128). A tier allows so many functions (prototype 5, hobby 25, team 100); one more is
a 403 `function_limit`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from starlette.requests import Request

from .errors import ApiError
from .functions_runtime import Invocation, run_function
from .tiers import Tier

__all__ = ["FunctionSpec", "parse_function", "parse_functions", "check_functions", "store_functions",
           "function_url", "DEFAULT_TIMEOUT_S", "DEFAULT_MEMORY_MB"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MAX_CODE_BYTES = 1024 * 1024
DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 30.0
DEFAULT_MEMORY_MB = 128
MEMORY_RANGE_MB = (32, 512)


@dataclass(frozen=True, kw_only=True)
class FunctionSpec:
    """One function as deployed."""

    name: str
    code: str
    config: dict[str, Any] = field(default_factory=dict)
    """What the request gave (kept as given, minus unknown keys)."""

    @property
    def timeout_s(self) -> float:
        return float(self.config.get("timeout_s", DEFAULT_TIMEOUT_S))

    @property
    def memory_mb(self) -> int:
        return int(self.config.get("memory_mb", DEFAULT_MEMORY_MB))


def parse_function(item: Any, where: str = "function") -> FunctionSpec:
    """One `{name, code, config?}`, checked (without running it)."""
    if not isinstance(item, dict):
        raise ApiError(400, "invalid_function", f"{where} must be an object with name and code")
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ApiError(400, "invalid_function_name", f"{where}: name {name!r} is not a valid function name",
                       hint="1-63 lowercase letters, digits, - and _, starting with a letter or digit")
    code = item.get("code")
    if not isinstance(code, str) or not code.strip():
        raise ApiError(400, "invalid_function", f"{where} ({name}): code must be a non-empty string",
                       hint="export default async (req) => new Response('hello')")
    if len(code.encode()) > MAX_CODE_BYTES:
        raise ApiError(413, "function_too_large", f"{where} ({name}): code is larger than {MAX_CODE_BYTES} bytes")
    return FunctionSpec(name=name, code=code, config=_config(item.get("config"), f"{where} ({name})"))


def _config(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_function_config", f"{where}: config must be an object")
    config: dict[str, Any] = {}
    if "timeout_s" in value:
        config["timeout_s"] = _number(value["timeout_s"], 1, MAX_TIMEOUT_S, f"{where}: config.timeout_s")
    if "memory_mb" in value:
        config["memory_mb"] = int(_number(value["memory_mb"], *MEMORY_RANGE_MB, f"{where}: config.memory_mb"))
    return config


def _number(value: Any, low: float, high: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ApiError(400, "invalid_function_config", f"{what} must be a number from {low:g} to {high:g}")
    return float(value)


def parse_functions(value: Any) -> list[FunctionSpec]:
    """A list of functions (None: none), names unique."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiError(400, "invalid_functions", "functions must be a list of {name, code, config?}")
    specs = [parse_function(item, f"functions[{i}]") for i, item in enumerate(value)]
    names = [s.name for s in specs]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ApiError(400, "duplicate_function", f"{duplicate} appears more than once in functions")
    return specs


def check_limit(tier: Tier, count: int) -> None:
    """A 403 when a project would have more functions than its tier allows."""
    if count > tier.functions:
        raise ApiError(
            403, "function_limit", f"a {tier.name} project may have {tier.functions} functions; this makes {count}",
            hint="delete a function, or use a larger tier (prototype 5, hobby 25, team 100)",
            limit=tier.functions,
        )


async def check_functions(specs: list[FunctionSpec], env: Mapping[str, str]) -> None:
    """Import every module once in Node; a 400 naming the first that does not load."""
    outcomes = await asyncio.gather(*(
        run_function(Invocation(name=s.name, code=s.code, env=env, timeout_s=s.timeout_s,
                                memory_mb=s.memory_mb, check=True))
        for s in specs
    ))
    for spec, outcome in zip(specs, outcomes):
        if not outcome.ok:
            raise ApiError(400, "invalid_function_code", f"function {spec.name} does not load: {outcome.message}",
                           hint="the module needs `export default async (req) => new Response(...)`",
                           function=spec.name, logs=outcome.logs or None)


async def store_functions(conn: asyncpg.Connection, project_id: str, specs: list[FunctionSpec]) -> None:
    """Insert or replace functions of a project."""
    await conn.executemany(
        "INSERT INTO sandbox.functions (project_id, name, code, config) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (project_id, name) DO UPDATE SET code = excluded.code, config = excluded.config, "
        "updated_at = now()",
        [(project_id, s.name, s.code, s.config) for s in specs],
    )


def function_url(request: Request, name: str) -> str:
    """Where a function is served: `<api>/functions/v1/<name>`."""
    return f"{request.url.scheme}://{request.url.netloc}/functions/v1/{name}"
