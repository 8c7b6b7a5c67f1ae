"""Blueprints: what an app is, declared once, built by appwright's nine steps.

A blueprint is a JSON file that says everything the deterministic blueprint agent needs
to build and ship an app without asking anyone: its name and subdomain, its tables (one
``CREATE TABLE`` each), the RLS template of each table, the seed rows, the site's files,
the answers to the steps' questions and the feedback sent to the platform at the end.

Site files are given inline (``data``) or as a ``source`` path relative to the folder of
the blueprint file. `load_blueprint` reads the sources, so the blueprint it returns is
self-contained: every site file has its ``data``, and ``bp.model_dump()`` can be stored
and validated again later without the folder.

A site never holds a key literally: it holds placeholders that `render_site` fills in
at deploy time::

    {{API_URL}}    the API base, e.g. http://127.0.0.1:8402
    {{ANON_KEY}}   the project's anon key (safe in a browser; RLS applies)
    {{APP_TITLE}}  the blueprint's title

The service key bypasses RLS and must never reach a browser: there is no placeholder
for it, and a text file that refers to it in any way the site gate knows
(`appwright.steps.sitecheck`: ``{{SERVICE_KEY}}``, ``serviceKey``, ``service_role``, a
pasted key whose role is service_role, …) is refused, as is any unknown placeholder.
Values are escaped for where they land: HTML-escaped in ``.html``/``.htm``/``.svg``,
escaped as the inside of a JavaScript/JSON string literal in ``.js``/``.mjs``/``.json``,
verbatim elsewhere. Binary (base64) files are sent as they are.

Functions (``functions``: name, ``code`` or ``source``, optional ``config``) are JavaScript
modules deployed by the deploy step and served at ``<api>/functions/v1/<name>``; their
rules, and why their code may not use the service key either, are in
`appwright.workflow.blueprint_functions`.

Seed rows are inserted table by table in the order of ``seed`` (rows in their order),
after the tables exist and their RLS is applied; a row may rely on earlier ones, e.g.
serial ids 1, 2, … of a fresh table.

Bundled blueprints live in this package's ``blueprints/`` folder (``<name>.json`` and the
site files in ``<name>/``); `bundled_blueprints` lists them and `load_blueprint` takes a
bundled name or a path. Every problem is a `BlueprintError` whose message names the
file and the field, e.g.
``todo.json: tables[1].sql: expected exactly one statement (one CREATE TABLE), found 2``.

This module loads and validates blueprints and re-exports the public names of the
others: the model and its rules are in `blueprint_model`, rendering in `blueprint_render`.

Usage::

    bp = load_blueprint("todo")
    for table in bp.tables:
        run_sql(table.sql)
    files = render_site(bp, api_url=api, anon_key=project["anon_key"])
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .blueprint_functions import FunctionSpec, SourceUnreadable, inline_function
from .blueprint_model import (
    ANSWER_STEPS,
    PLACEHOLDERS,
    RESERVED_SUBDOMAINS,
    Blueprint,
    BlueprintError,
    RlsSpec,
    SeedSpec,
    SiteFile,
    TableSpec,
    _inlined,
)
from .blueprint_render import render_site

__all__ = [
    "ANSWER_STEPS",
    "PLACEHOLDERS",
    "RESERVED_SUBDOMAINS",
    "Blueprint",
    "BlueprintError",
    "FunctionSpec",
    "RlsSpec",
    "SeedSpec",
    "SiteFile",
    "TableSpec",
    "bundled_blueprints",
    "load_blueprint",
    "render_site",
    "validate_blueprint",
]

_BUNDLED = "blueprints"


# --- errors ---------------------------------------------------------------------------


def _field_path(location: tuple[int | str, ...], message: str) -> tuple[str, str]:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    # A model validator's problem in a sub-field ("@columns: ...") → "<path>.columns".
    match = re.match(r"^(?:Value error, )?@(\S+): (.*)$", message, re.DOTALL)
    if match:
        sub, message = match.group(1), match.group(2)
        path = f"{path}.{sub}" if path else sub
    return path or "blueprint", message.removeprefix("Value error, ")


def _from_validation(error: ValidationError, file: str | None) -> BlueprintError:
    first = error.errors(include_url=False)[0]
    message = str(first["msg"])
    location = tuple(part for part in first["loc"] if isinstance(part, (int, str)))
    path, text = _field_path(location, message)
    more = error.error_count() - 1
    if more:
        text += f" (and {more} more problem{'s' if more > 1 else ''})"
    return BlueprintError(text, file=file, field=path)


def validate_blueprint(data: Any, *, file: str | None = None, base_dir: Path | None = None) -> Blueprint:
    """A `Blueprint` from JSON-like `data`, sources read from `base_dir`; or a `BlueprintError`."""
    if not isinstance(data, dict):
        raise BlueprintError("a blueprint is a JSON object", file=file)
    try:
        blueprint = Blueprint.model_validate(data)
    except ValidationError as error:
        raise _from_validation(error, file) from None
    blueprint._base_dir = base_dir
    if base_dir is not None:
        blueprint = _inline_sources(blueprint, base_dir, file)
    return blueprint


def _inline_sources(blueprint: Blueprint, base_dir: Path, file: str | None) -> Blueprint:
    files = [_inlined(index, site_file, base_dir, file) for index, site_file in enumerate(blueprint.site)]
    data = blueprint.model_dump()
    data["site"] = files
    data["functions"] = []
    for index, function in enumerate(blueprint.functions):
        try:
            data["functions"].append(inline_function(function, base_dir))
        except SourceUnreadable as error:
            raise BlueprintError(str(error), file=file, field=f"functions[{index}].source") from None
    try:
        inlined = Blueprint.model_validate(data)
    except ValidationError as error:
        raise _from_validation(error, file) from None
    inlined._base_dir = base_dir
    return inlined



# --- loading --------------------------------------------------------------------------


def _bundled_dir() -> Path:
    return Path(str(resources.files("appwright.workflow").joinpath(_BUNDLED)))


def bundled_blueprints() -> list[str]:
    """The names of the blueprints shipped with appwright, sorted."""
    folder = _bundled_dir()
    if not folder.is_dir():
        return []
    return sorted(path.stem for path in folder.glob("*.json"))


def load_blueprint(name_or_path: str) -> Blueprint:
    """A bundled blueprint by name (e.g. "todo"), or the blueprint in a .json file.

    Site files given by `source` are read (relative to the file's folder), so the result
    is self-contained. Raises `BlueprintError` for an unknown name, an unreadable file, bad
    JSON or an invalid blueprint; the message names the file and the field.
    """
    candidate = Path(name_or_path).expanduser()
    looks_like_path = name_or_path.endswith(".json") or "/" in name_or_path or "\\" in name_or_path
    if looks_like_path or (candidate.is_file() and name_or_path not in bundled_blueprints()):
        path = candidate
    else:
        bundled = bundled_blueprints()
        if name_or_path not in bundled:
            raise BlueprintError(
                f"no bundled blueprint {name_or_path!r}; bundled: {', '.join(bundled) or 'none'} "
                "(or give the path of a .json file)"
            )
        path = _bundled_dir() / f"{name_or_path}.json"
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BlueprintError("no such file", file=shown) from None
    except (OSError, UnicodeDecodeError) as error:
        raise BlueprintError(f"cannot read it: {error}", file=shown) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BlueprintError(f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}",
                             file=shown) from None
    return validate_blueprint(data, file=shown, base_dir=path.resolve().parent)

