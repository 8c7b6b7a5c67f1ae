"""The parts of an app that bundle deploy and fork install inside one paid transaction.

Each part writes through the caller's connection and transaction, so one failing
part rolls every other part back with it: the project's schema and roles, its
tables, policies, secrets, functions, site and subdomain, and the charge.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.concurrency import run_in_threadpool

from .api_sites import SiteFile
from .db import as_role
from .errors import ApiError
from .projects import Project
from .rls import TEMPLATES, TableRule, apply_template

__all__ = ["RlsRequest", "parse_rls", "gate_sql", "run_migrations", "store_site", "claim_subdomain",
           "forget_session"]


@dataclass(frozen=True, kw_only=True)
class RlsRequest:
    """`{template, tables}` of a manifest."""

    template: str
    tables: list[TableRule]


def parse_rls(value: Any) -> RlsRequest | None:
    """The manifest's `rls`, checked (None when absent)."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("tables"), list) or not value["tables"]:
        raise ApiError(400, "invalid_rls_request", "rls needs template and a non-empty tables list",
                       hint='{"template": "user_owns_rows", "tables": [{"table": "todos", "owner_column": "user_id"}]}')
    template = value.get("template")
    if template not in TEMPLATES:
        raise ApiError(400, "unknown_template", f"unknown RLS template {template!r}",
                       hint=f"use one of: {', '.join(TEMPLATES)}")
    rules = []
    for index, entry in enumerate(value["tables"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("table"), str):
            raise ApiError(400, "invalid_rls_request", f"rls.tables[{index}] needs a table name")
        rules.append(TableRule(table=entry["table"], owner_column=entry.get("owner_column")))
    return RlsRequest(template=str(template), tables=rules)


async def gate_sql(sql: str) -> list[Any]:
    """The statements of `sql`, or the admin SQL route's 403/400 for blocked or broken SQL."""
    from appwright.platforms import sqlgate  # loads Postgres' parser: at first use only

    try:
        return await run_in_threadpool(sqlgate.check_sql, sql)
    except sqlgate.SqlBlocked as blocked:
        raise ApiError(403, blocked.reason, f"migrations: {blocked.statement} is not allowed",
                       hint=blocked.hint, part="migrations") from None
    except sqlgate.SqlSyntaxError as error:
        raise ApiError(400, "sql_syntax_error", f"migrations: {error}", part="migrations") from None


async def run_migrations(conn: asyncpg.Connection, project: Project, statements: list[Any]) -> None:
    """Run the gated statements as the project's owner, in its schema."""
    index = 0
    try:
        async with as_role(conn, role=project.role("owner"), schema=project.slot):
            for index, statement in enumerate(statements):
                await conn.execute(statement.text)
    except asyncpg.PostgresError as error:
        raise ApiError(400, "migration_failed", f"migrations, statement {index + 1}: {error}",
                       hint="fix that statement; nothing was created or charged",
                       part="migrations", statement=index + 1, sqlstate=error.sqlstate) from None


async def apply_rls(conn: asyncpg.Connection, project: Project, rls: RlsRequest) -> None:
    """Apply the manifest's RLS template to its tables."""
    try:
        for rule in rls.tables:
            await apply_template(conn, project, rls.template, rule)
    except ApiError as error:
        error.extra["part"] = "rls"
        raise


async def store_site(conn: asyncpg.Connection, project_id: str, name: str, files: list[SiteFile]) -> str:
    """A new deployment of the project holding `files`; its id."""
    deployment_id = "dpl_" + secrets.token_hex(8)
    await conn.execute(
        "INSERT INTO sandbox.deployments (id, project_id, name) VALUES ($1, $2, $3)", deployment_id, project_id, name,
    )
    await conn.copy_records_to_table(
        "deployment_files", schema_name="sandbox", columns=["deployment_id", "path", "content", "content_type"],
        records=[(deployment_id, f.path, f.content, f.content_type) for f in files],
    )
    return deployment_id


async def claim_subdomain(conn: asyncpg.Connection, name: str, deployment_id: str, project_id: str) -> None:
    """Point `name` at the deployment; a 409 if another project holds it."""
    claimed = await conn.fetchval(
        "INSERT INTO sandbox.subdomains (name, deployment_id, project_id) VALUES ($1, $2, $3) "
        "ON CONFLICT (name) DO UPDATE SET deployment_id = excluded.deployment_id, updated_at = now() "
        "WHERE sandbox.subdomains.project_id = excluded.project_id RETURNING name",
        name, deployment_id, project_id,
    )
    if claimed is None:
        raise ApiError(409, "subdomain_taken", f"subdomain {name!r} is already claimed by another project",
                       hint="choose another subdomain; nothing was created or charged", part="subdomain")


async def forget_session(conn: asyncpg.Connection) -> None:
    """Undo, at commit, any session state a project's SQL left on this connection.

    Paid routes hand their connection back without a reset (`own_sql_only`); these
    ran a project's SQL, so they reset inside their own transaction instead.
    """
    query = conn.get_reset_query()
    if query:
        await conn.execute(query)
