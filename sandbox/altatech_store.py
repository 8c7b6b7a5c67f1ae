"""AltaTech in the sandbox: projects, their API keys, their tables, and the API's error answers.

An AltaTech project in slot `a0001` keeps its tables in schema `a0001`, one Postgres table
per AltaTech table, with the declared types (`altatech_values.PG_TYPES`), NOT NULL for a
required field and UNIQUE for a unique one. Each table also has three columns in upper
case, which no field can be named (field names are lower case): `RID` (the record id),
`CREATED` and `UPDATED`. Declarations live in `sandbox.altatech_tables`.

Unlike a Run402 project, an AltaTech project has no database roles: no caller's SQL ever
runs. Every statement is built here from names that passed the naming rules and from bound
values, on the sandbox's own connection, and every lookup is scoped by the project the
API key belongs to, so no key reaches another project's tables.

API keys are `at_…` tokens, stored only as SHA-256 hashes. A project's plan is `pro`
(everything) or `free` (the database API answers 40353); its `rpm` is its requests per
minute before 40008.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse

from .altatech_values import PG_TYPES, quote_ident
from .context import bearer

__all__ = ["AltaError", "AltaProject", "AltaState", "AltaTable", "authenticate", "create_project",
           "create_table", "find_table", "ok", "state_of"]

DEFAULT_RPM: Final = 6000
_STATUS: Final = {40000: 400, 40008: 429, 40127: 401, 40353: 403, 403100: 400, 403103: 400, 403106: 404, 50000: 500}


class AltaError(Exception):
    """An AltaTech error answer: `{code, message}` with the code's HTTP status."""

    def __init__(self, code: int, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # The code's HTTP status, unless the HTTP layer knows a more exact one (413).
        self.status = status if status is not None else _STATUS.get(code, 400)

    def response(self) -> JSONResponse:
        """The JSON answer."""
        return JSONResponse({"code": self.code, "message": self.message}, status_code=self.status)


def ok(data: Any, status: int = 200) -> JSONResponse:
    """A success answer."""
    return JSONResponse({"code": 0, "message": "OK", "data": data}, status_code=status)


@dataclass(frozen=True, kw_only=True)
class AltaProject:
    """A row of `sandbox.altatech_projects`."""

    id: str
    slot: str
    name: str
    plan: str
    rpm: int


@dataclass(frozen=True, kw_only=True)
class AltaTable:
    """A table's declaration."""

    id: str
    name: str
    description: str
    fields: list[dict[str, Any]]
    schema: str

    @property
    def qualified(self) -> str:
        """`"a0001"."tasks"`."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    def field(self, name: str) -> dict[str, Any] | None:
        """The declaration of field `name`, if the table has one."""
        return next((f for f in self.fields if f["name"] == name), None)

    def info(self) -> dict[str, Any]:
        """The `table_info` of a records page."""
        return {"id": self.id, "name": self.name, "description": self.description,
                "field_count": len(self.fields), "fields": self.fields}


@dataclass(kw_only=True)
class AltaState:
    """What the AltaTech routes keep in memory: keys seen, request windows, running imports."""

    keys: dict[str, AltaProject] = field(default_factory=dict)
    windows: dict[str, deque[float]] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)
    tasks: set[Any] = field(default_factory=set)


def state_of(request: Request) -> AltaState:
    """The AltaTech state of the app serving `request` (made at first use)."""
    app_state = request.app.state
    if getattr(app_state, "altatech", None) is None:
        app_state.altatech = AltaState()
    return app_state.altatech  # type: ignore[no-any-return]


async def create_project(conn: asyncpg.Connection, *, name: str, plan: str, rpm: int) -> dict[str, Any]:
    """A project, its schema and its key (returned once, kept as a hash)."""
    number = await conn.fetchval("SELECT nextval('sandbox.altatech_slot_seq')")
    slot, project_id, api_key = f"a{number:04d}", "alt_" + secrets.token_hex(8), "at_" + secrets.token_urlsafe(32)
    await conn.execute(f"CREATE SCHEMA {quote_ident(slot)}")
    await conn.execute(
        "INSERT INTO sandbox.altatech_projects (id, slot, name, plan, rpm, key_hash) VALUES ($1, $2, $3, $4, $5, $6)",
        project_id, slot, name, plan, rpm, _hash(api_key),
    )
    return {"project_id": project_id, "api_key": api_key, "name": name, "plan": plan, "rpm": rpm}


async def authenticate(request: Request, pool: asyncpg.Pool) -> AltaProject:
    """The project of the Bearer key; 40127 without a valid one, 40008 over the RPM, 40353 on `free`."""
    token = bearer(request)
    if token is None:
        raise AltaError(40127, "Developer authentication failed: send Authorization: Bearer <api key>")
    state = state_of(request)
    project = state.keys.get(token)
    if project is None:
        row = await pool.fetchrow("SELECT * FROM sandbox.altatech_projects WHERE key_hash = $1", _hash(token))
        if row is None:
            raise AltaError(40127, "Developer authentication failed: the API key is not valid for this server")
        project = AltaProject(id=row["id"], slot=row["slot"], name=row["name"], plan=row["plan"], rpm=row["rpm"])
        state.keys[token] = project
    _count(state, project)
    if project.plan == "free":
        raise AltaError(40353, "This feature is only available after upgrading your plan: "
                               "the database API needs a paid plan (this project is on free)")
    return project


def _count(state: AltaState, project: AltaProject) -> None:
    now = time.monotonic()
    window = state.windows.setdefault(project.id, deque())
    while window and now - window[0] >= 60.0:
        window.popleft()
    if len(window) >= project.rpm:
        raise AltaError(40008, f"Agent RPM request limit exceeded: {project.rpm} requests per minute; "
                               f"try again in {60.0 - (now - window[0]):.0f} s")
    window.append(now)


async def create_table(conn: asyncpg.Connection, project: AltaProject, body: dict[str, Any]) -> str:
    """Create a checked table; its id. 403100 if the project has a table of that name."""
    exists = await conn.fetchval(
        "SELECT 1 FROM sandbox.altatech_tables WHERE project_id = $1 AND name = $2", project.id, body["name"],
    )
    if exists:
        raise AltaError(403100, f"Invalid table name: a table named {body['name']!r} already exists")
    fields = [{"name": f["name"], "description": f["description"], "type": f["type"],
               "required": bool(f.get("required", False)), "unique": bool(f.get("unique", False))}
              for f in body["fields"]]
    table_id = secrets.token_hex(12)
    columns = ['"RID" text PRIMARY KEY', '"CREATED" timestamptz NOT NULL DEFAULT now()',
               '"UPDATED" timestamptz NOT NULL DEFAULT now()']
    columns += [_column(f) for f in fields]
    qualified = f"{quote_ident(project.slot)}.{quote_ident(body['name'])}"
    await conn.execute(f"CREATE TABLE {qualified} ({', '.join(columns)})")
    await conn.execute(
        "INSERT INTO sandbox.altatech_tables (id, project_id, name, description, fields) VALUES ($1, $2, $3, $4, $5)",
        table_id, project.id, body["name"], body["description"], json.dumps(fields),
    )
    return table_id


def _column(field: dict[str, Any]) -> str:
    parts = [quote_ident(field["name"]), PG_TYPES[field["type"]]]
    if field["required"]:
        parts.append("NOT NULL")
    if field["unique"]:
        parts.append("UNIQUE")
    return " ".join(parts)


async def find_table(conn: asyncpg.Connection | asyncpg.Pool, project: AltaProject, table_id: Any) -> AltaTable:
    """The project's table `table_id`, or 403106."""
    if not isinstance(table_id, str) or not table_id:
        raise AltaError(40000, "Invalid parameters: table_id is required (a string)")
    row = await conn.fetchrow(
        "SELECT * FROM sandbox.altatech_tables WHERE id = $1 AND project_id = $2", table_id, project.id,
    )
    if row is None:
        raise AltaError(403106, f"Table not found: no table {table_id!r} in this project")
    fields = row["fields"] if isinstance(row["fields"], list) else json.loads(row["fields"])
    return AltaTable(id=row["id"], name=row["name"], description=row["description"], fields=fields,
                     schema=project.slot)


def _hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()
