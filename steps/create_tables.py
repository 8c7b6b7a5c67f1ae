"""Step 3: Create Database Tables — run the migration, then read the schema back."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from appwright.memory import MemoryDirective, StepId
from appwright.platforms.run402 import SqlRefused

from .base import Action, ActionContext, ActionFailed, Step, VerifyFailed
from .calls import as_dict

__all__ = ["CREATE_TABLES", "CreateTablesOutput", "run_sql", "get_schema"]


class SqlArgs(BaseModel):
    """SQL to run in the project's schema as the project's role."""

    sql: str = Field(min_length=1, description="CREATE TABLE, ALTER TABLE, CREATE INDEX, INSERT, …")


class NoArgs(BaseModel):
    """This action takes no arguments."""


async def run_sql(ctx: ActionContext, args: SqlArgs) -> dict[str, Any]:
    client = await ctx.backend.client()
    try:
        result = await client.sql(
            ctx.facts["project_id"], ctx.facts["service_key"], args.sql, idempotency_key=ctx.idempotency_key,
        )
    except SqlRefused as refused:
        raise ActionFailed(_refusal(refused)) from None
    return as_dict(result)


def _refusal(refused: SqlRefused) -> str:
    """What was refused and how to fix it, for the agent (the client sent nothing)."""
    return f"not sent: {refused.message} ({refused.reason}). To fix it: {refused.hint.rstrip('.')}."


async def get_schema(ctx: ActionContext, args: NoArgs) -> dict[str, Any]:
    client = await ctx.backend.client()
    return as_dict(await client.schema(ctx.facts["project_id"], ctx.facts["service_key"]))


RUN_SQL = Action(
    name="run_sql", description="Run SQL (text/plain) in the project's schema.", args=SqlArgs, run=run_sql,
    summary=lambda r: f"{r.get('status')}, rowCount {r.get('rowCount', r.get('row_count'))}",
)
GET_SCHEMA = Action(
    name="get_schema", description="Tables, columns, primary keys, RLS and policies.", args=NoArgs,
    run=get_schema, summary=lambda r: "tables: " + ", ".join(t["name"] for t in r.get("tables", [])),
)


class TableCreated(BaseModel):
    """A table and its columns."""

    name: str
    columns: list[str]


class CreateTablesOutput(BaseModel):
    """tables_created — the tables successfully created, with their columns."""

    tables_created: list[TableCreated] = Field(min_length=1)


async def schema_tables(ctx: ActionContext) -> dict[str, dict[str, Any]]:
    """The project's tables by name, as the backend reports them."""
    client = await ctx.backend.client()
    schema = as_dict(await client.schema(ctx.facts["project_id"], ctx.facts["service_key"]))
    return {t["name"]: t for t in schema.get("tables", [])}


async def _verify(ctx: ActionContext, output: CreateTablesOutput) -> None:
    tables = await schema_tables(ctx)
    for table in output.tables_created:
        if table.name not in tables:
            raise VerifyFailed(f"table {table.name!r} does not exist; the schema has: {', '.join(tables) or 'no tables'}")
        actual = [c["name"] for c in tables[table.name]["columns"]]
        missing = [c for c in table.columns if c not in actual]
        if missing:
            raise VerifyFailed(f"table {table.name!r} has no column(s) {', '.join(missing)}; it has {', '.join(actual)}")


CREATE_TABLES = Step(
    number=3,
    id=StepId("create_tables"),
    title="Create Database Tables",
    phase="implement",
    context=("project_id", "service_key", "table_plan"),
    actions=(RUN_SQL, GET_SCHEMA),
    output=CreateTablesOutput,
    verify=_verify,
    tell_user="I've set up the storage for your app. Everything your app needs to remember will go here.",
    memory=MemoryDirective(
        carry_forward={"project_id", "service_key", "anon_key", "app"},
        store={"tables_created"},
        discard={"table_plan"},
    ),
)
