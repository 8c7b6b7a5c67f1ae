"""Admin routes (service key as Bearer): run SQL, read the schema, apply RLS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from appwright.platforms import sqlgate

from .bodies import read_body
from .context import admin_project, json_body, sandbox_of
from .db import as_role, jsonable
from .errors import ApiError
from .idempotency import with_idempotency
from .projects import Project
from .rls import TableRule, apply_template
from .routing import Router

router = Router()

MAX_SQL_BYTES = 1_000_000
"""One SQL call's text: far more than any migration the steps write, while its parse stays quick."""


@router.post("/admin/v1/projects/{project_id}/sql")
async def run_sql(request: Request, project_id: str) -> Response:
    """Run SQL in the project's schema as the project's own role."""
    raw = await read_body(request, limit=MAX_SQL_BYTES, what="the SQL text",
                          hint="split the SQL into several calls of at most 1 MB (e.g. one per migration)")
    sql = raw.decode("utf-8", errors="replace")
    project = await admin_project(request, project_id, write=False)
    # Parsing a large text takes a while: keep it off the event loop.
    statements = await run_in_threadpool(_gate, sql)
    project.check_access(write=_writes(statements))
    pool = sandbox_of(request).pool
    if project.state() == "read_only":
        # Postgres itself refuses any write, however the statement hides it.
        async with pool.acquire() as conn, conn.transaction(readonly=True):
            rows, count = await _execute(conn, project, statements)
        return _answer(project, rows, count)

    async def work(conn: asyncpg.Connection) -> Response:
        rows, count = await _execute(conn, project, statements)
        return _answer(project, rows, count)

    return await with_idempotency(request, pool, work)


def _answer(project: Project, rows: list[dict[str, Any]], count: int) -> JSONResponse:
    return JSONResponse({"status": "ok", "schema": project.slot, "rows": rows, "rowCount": count})


def _gate(sql: str) -> list[sqlgate.Statement]:
    # The gate loads Postgres' parser (pglast, ~40 ms): at the first SQL call, not at start-up.
    from appwright.platforms import sqlgate

    try:
        return sqlgate.check_sql(sql)
    except sqlgate.SqlBlocked as blocked:
        raise ApiError(403, blocked.reason, f"{blocked.statement} is not allowed", hint=blocked.hint) from None
    except sqlgate.SqlSyntaxError as error:
        raise ApiError(400, "sql_syntax_error", str(error)) from None


def _writes(statements: list[sqlgate.Statement]) -> bool:
    return any(s.kind not in ("SelectStmt", "ExplainStmt", "VariableShowStmt") for s in statements)


async def _execute(
    conn: asyncpg.Connection, project: Project, statements: list[sqlgate.Statement],
) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    count = 0
    try:
        async with as_role(conn, role=project.role("owner"), schema=project.slot):
            for statement in statements:
                rows, count = await _one(conn, statement)
    except asyncpg.PostgresError as error:
        raise _pg_error(error) from None
    return rows, count


async def _one(conn: asyncpg.Connection, statement: sqlgate.Statement) -> tuple[list[dict[str, Any]], int]:
    if not statement.returns_rows:
        return [], _count(await conn.execute(statement.text))
    prepared = await conn.prepare(statement.text)
    records = await prepared.fetch()
    rows = [jsonable(dict(r)) for r in records]
    return rows, _count(prepared.get_statusmsg()) or len(rows)


def _count(status: str | None) -> int:
    last = (status or "").rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def _pg_error(error: asyncpg.PostgresError) -> ApiError:
    if error.sqlstate == "25006":  # read_only_sql_transaction: the lease has ended
        return ApiError(403, "lease_expired", "the project's lease has ended; it is read-only",
                        hint="renew it: POST /v1/projects/:id/renew (x402)")
    extra: dict[str, Any] = {"sqlstate": error.sqlstate}
    detail = getattr(error, "detail", None)
    if detail:
        extra["detail"] = detail
    hint = getattr(error, "hint", None)
    position = getattr(error, "position", None)
    if position:
        extra["position"] = int(position)
    return ApiError(400, "sql_error", str(error), hint=hint, **extra)


@router.get("/admin/v1/projects/{project_id}/schema")
async def schema(request: Request, project_id: str) -> JSONResponse:
    """Tables with columns, primary keys, RLS on/off and policies."""
    project = await admin_project(request, project_id, write=False)
    pool = sandbox_of(request).pool
    tables = await pool.fetch(_TABLES, project.slot)
    columns = await pool.fetch(_COLUMNS, project.slot)
    policies = await pool.fetch(_POLICIES, project.slot)
    return JSONResponse({
        "schema": project.slot,
        "tables": [_table(t, columns, policies) for t in tables],
    })


def _table(t: asyncpg.Record, columns: list[asyncpg.Record], policies: list[asyncpg.Record]) -> dict[str, Any]:
    name = t["name"]
    return {
        "name": name,
        "columns": [
            {"name": c["name"], "type": c["type"], "nullable": c["nullable"], "default": c["default"]}
            for c in columns if c["table"] == name
        ],
        "primary_key": list(t["primary_key"] or []),
        "rls_enabled": t["rls"],
        "policies": [
            {"name": p["policyname"], "command": p["cmd"], "roles": list(p["roles"]),
             "using": p["qual"], "with_check": p["with_check"]}
            for p in policies if p["tablename"] == name
        ],
    }


_TABLES = """
SELECT c.relname AS name, c.relrowsecurity AS rls,
       (SELECT array_agg(a.attname ORDER BY k.ord)
          FROM pg_constraint pk
          CROSS JOIN LATERAL unnest(pk.conkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
         WHERE pk.conrelid = c.oid AND pk.contype = 'p') AS primary_key
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
 ORDER BY c.relname
"""

_COLUMNS = """
SELECT c.relname AS table, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       NOT a.attnotnull AS nullable, pg_get_expr(d.adbin, d.adrelid) AS default
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY c.relname, a.attnum
"""

_POLICIES = """
SELECT tablename, policyname, cmd, roles, qual, with_check
  FROM pg_policies WHERE schemaname = $1 ORDER BY tablename, policyname
"""


@router.post("/admin/v1/projects/{project_id}/rls")
async def rls(request: Request, project_id: str) -> Response:
    """Apply one RLS template to one or more tables."""
    project = await admin_project(request, project_id)
    body = await json_body(request)
    template, rules = _rls_request(body)

    async def work(conn: asyncpg.Connection) -> Response:
        for rule in rules:
            await apply_template(conn, project, template, rule)
        return JSONResponse({"status": "ok", "template": template, "tables": [r.table for r in rules]})

    return await with_idempotency(request, sandbox_of(request).pool, work)


def _rls_request(body: dict[str, Any]) -> tuple[str, list[TableRule]]:
    template = body.get("template")
    tables = body.get("tables")
    if not isinstance(template, str) or not isinstance(tables, list) or not tables:
        raise ApiError(400, "invalid_rls_request", "the body needs template and a non-empty tables list",
                       hint='{"template": "user_owns_rows", "tables": [{"table": "todos", "owner_column": "user_id"}]}')
    rules = []
    for entry in tables:
        if not isinstance(entry, dict) or not isinstance(entry.get("table"), str):
            raise ApiError(400, "invalid_rls_request", "each entry of tables needs a table name")
        rules.append(TableRule(table=entry["table"], owner_column=entry.get("owner_column")))
    return template, rules
