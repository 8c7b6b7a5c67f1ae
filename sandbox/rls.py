"""The three RLS templates of the seed, as SQL on one table.

Each template replaces whatever template the table had before (its policies are
named `aw_*`), so applying one again changes nothing, and calls for different
tables add up. Privileges follow the template too: the anon role may write only
to a `public_read_write` table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import asyncpg

from .db import quote_ident
from .errors import ApiError
from .projects import Project

__all__ = ["TEMPLATES", "TableRule", "apply_template"]

Template = Literal["user_owns_rows", "public_read", "public_read_write"]
TEMPLATES: tuple[Template, ...] = ("user_owns_rows", "public_read", "public_read_write")


@dataclass(frozen=True, kw_only=True)
class TableRule:
    """One entry of the request's `tables`."""

    table: str
    """The table to protect."""
    owner_column: str | None = None
    """For user_owns_rows: the column holding the owner's user id."""


async def apply_template(
    conn: asyncpg.Connection, project: Project, template: str, rule: TableRule,
) -> None:
    """Enable RLS on the table with the template's policies and privileges."""
    if template not in TEMPLATES:
        raise ApiError(400, "unknown_template", f"unknown RLS template {template!r}",
                       hint=f"use one of: {', '.join(TEMPLATES)}")
    columns = await _columns(conn, project, rule.table)
    table = f"{quote_ident(project.slot)}.{quote_ident(rule.table)}"
    await _reset(conn, project, rule.table, table)
    if template == "user_owns_rows":
        await conn.execute(_owner_sql(project, table, _owner(rule, columns)))
    elif template == "public_read":
        await conn.execute(_public_read_sql(project, table))
    else:
        await conn.execute(_public_read_write_sql(project, table))


async def _columns(conn: asyncpg.Connection, project: Project, table: str) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') "
        "AND a.attnum > 0 AND NOT a.attisdropped", project.slot, table,
    )
    if not rows:
        raise ApiError(404, "table_not_found", f"no table {table!r} in this project",
                       hint="create it first with POST /admin/v1/projects/:id/sql")
    return {r["attname"]: r["type"] for r in rows}


def _owner(rule: TableRule, columns: dict[str, str]) -> tuple[str, str]:
    if not rule.owner_column:
        raise ApiError(400, "owner_column_required",
                       f"user_owns_rows needs owner_column for table {rule.table!r}",
                       hint='e.g. {"table": "todos", "owner_column": "user_id"}')
    if rule.owner_column not in columns:
        raise ApiError(400, "owner_column_not_found",
                       f"table {rule.table!r} has no column {rule.owner_column!r}",
                       hint=f"its columns are: {', '.join(columns)}")
    return rule.owner_column, columns[rule.owner_column]


async def _reset(conn: asyncpg.Connection, project: Project, name: str, table: str) -> None:
    policies = await conn.fetch(
        "SELECT policyname FROM pg_policies WHERE schemaname = $1 AND tablename = $2 "
        "AND policyname LIKE 'aw\\_%'", project.slot, name,
    )
    for row in policies:
        await conn.execute(f"DROP POLICY {quote_ident(row['policyname'])} ON {table}")
    anon, user = quote_ident(project.role("anon")), quote_ident(project.role("user"))
    await conn.execute(
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; "
        f"REVOKE INSERT, UPDATE, DELETE ON {table} FROM {anon}; "
        f"GRANT SELECT ON {table} TO {anon}; "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {user};"
    )


def _owner_sql(project: Project, table: str, owner: tuple[str, str]) -> str:
    column, type_ = owner
    user = quote_ident(project.role("user"))
    # Compare as text so that a text owner column works as well as a uuid one.
    mine = f"{quote_ident(column)}::text = auth.uid()::text"
    default = (
        f"ALTER TABLE {table} ALTER COLUMN {quote_ident(column)} SET DEFAULT auth.uid();"
        if type_ == "uuid" else ""
    )
    return (
        f"CREATE POLICY aw_owner_all ON {table} FOR ALL TO {user} USING ({mine}) WITH CHECK ({mine});"
        + default
    )


def _public_read_sql(project: Project, table: str) -> str:
    anon, user = quote_ident(project.role("anon")), quote_ident(project.role("user"))
    return (
        f"CREATE POLICY aw_public_read ON {table} FOR SELECT TO {anon}, {user} USING (true);"
        f"CREATE POLICY aw_auth_insert ON {table} FOR INSERT TO {user} WITH CHECK (true);"
        f"CREATE POLICY aw_auth_update ON {table} FOR UPDATE TO {user} USING (true) WITH CHECK (true);"
        f"CREATE POLICY aw_auth_delete ON {table} FOR DELETE TO {user} USING (true);"
    )


def _public_read_write_sql(project: Project, table: str) -> str:
    anon, user = quote_ident(project.role("anon")), quote_ident(project.role("user"))
    return (
        f"GRANT INSERT, UPDATE, DELETE ON {table} TO {anon};"
        f"CREATE POLICY aw_public_all ON {table} FOR ALL TO {anon}, {user} USING (true) WITH CHECK (true);"
    )
