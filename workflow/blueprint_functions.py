"""A blueprint's serverless functions: ``functions: [{name, code | source, config?}]``.

A function is a JavaScript (ES) module whose default export takes a `Request` and
returns a `Response`, as the seed's bundle deploy and the sandbox run it; it is served
at ``<api>/functions/v1/<name>`` and called with any key of its project in ``apikey``.
Like a site file, its code is given inline (``code``) or as a ``source`` path relative
to the blueprint's folder, read by `load_blueprint`.

Checked here, each problem named by field (``functions[0].name``, ``functions[1].code``):

* the name follows the platform's rule: 1-63 lowercase letters, digits, ``-`` and
  ``_``, starting with a letter or digit; names are unique;
* the code is non-empty, has a default export, and is at most 1 MB;
* ``config`` may set ``timeout_s`` (1-30) and ``memory_mb`` (32-512), nothing else;
* the code never refers to the service key, by the same gate as a site file
  (`appwright.steps.functions.function_code_problem`, which the plan and deploy steps run too).

Why no service key in a function, though it runs server-side (where the seed says the
service key belongs): a function is public, callable by anyone holding the anon key,
so whatever it reads with the service key it hands to anyone, RLS bypassed. And the key
would have to be written into its code or its secrets by the engine. So a blueprint's
function reads the API with the key its caller sends (``req.headers.get("apikey")``),
under the caller's RLS, and finds the API at its own request's origin. That is all the
bundled ``photos`` blueprint's ``summary`` needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from appwright.steps.functions import FUNCTION_NAME, function_code_problem

__all__ = ["FunctionConfig", "FunctionSpec", "SourceUnreadable", "duplicate_names", "inline_function"]


class FunctionConfig(BaseModel):
    """A function's limits on the platform."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_s: float | None = Field(default=None, ge=1, le=30, description="Wall-clock limit per call (default 10).")
    memory_mb: int | None = Field(default=None, ge=32, le=512, description="JS heap cap (default 128).")


class FunctionSpec(BaseModel):
    """One serverless function, inline or read from beside the blueprint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Served at /functions/v1/<name>: 1-63 lowercase letters, digits, - and _, "
                                  "starting with a letter or digit.")
    code: str | None = Field(
        default=None,
        description="The ES module: `export default async (req) => new Response(...)`. Exactly one of code/source.",
    )
    source: str | None = Field(
        default=None,
        description="A path relative to the blueprint file's folder whose content is the code. "
        "Exactly one of code/source.",
    )
    config: FunctionConfig | None = Field(default=None, description="timeout_s and memory_mb, both optional.")
    language: Literal["javascript"] = Field(default="javascript", description="Only JavaScript runs.")

    @field_validator("name")
    @classmethod
    def _name_is_valid(cls, value: str) -> str:
        if not FUNCTION_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a function name: 1-63 lowercase letters, digits, - and _, "
                "starting with a letter or digit"
            )
        return value

    @field_validator("source")
    @classmethod
    def _source_is_relative(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = value.split("/")
        if value.startswith("/") or "\\" in value or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"{value!r} must be a relative path without '..', '.' or empty segments")
        return value

    @model_validator(mode="after")
    def _code_is_usable(self) -> FunctionSpec:
        if (self.code is None) == (self.source is None):
            raise ValueError("give exactly one of code and source" + (", not both" if self.code is not None else ""))
        if self.code is not None:
            problem = function_code_problem(self.code)
            if problem:
                raise ValueError(f"@code: {problem}")
        return self

    def deployable(self) -> dict[str, Any]:
        """``{name, code, config}`` as the plan and the deploy step carry it (code inlined)."""
        config = self.config.model_dump(exclude_none=True) if self.config else {}
        return {"name": self.name, "code": self.code or "", "config": config}


def duplicate_names(functions: list[FunctionSpec]) -> tuple[int, str] | None:
    """The index and name of the first function whose name was already used, if any."""
    seen: set[str] = set()
    for index, function in enumerate(functions):
        if function.name in seen:
            return index, function.name
        seen.add(function.name)
    return None


class SourceUnreadable(ValueError):
    """A function's source file cannot be read as UTF-8 text."""


def inline_function(function: FunctionSpec, base_dir: Path) -> dict[str, Any]:
    """The function as data with its source read from `base_dir` (code inline)."""
    data = function.model_dump(exclude_none=True)
    if function.source is None:
        return data
    path = base_dir / function.source
    try:
        code = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SourceUnreadable(f"cannot read {path} as UTF-8 text: {error}") from None
    data.pop("source")
    return {**data, "code": code}
