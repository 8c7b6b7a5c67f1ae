"""Step 5: Secure the Data — row-level security from the three templates."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from appwright.memory import MemoryDirective, StepId

from appwright.platforms.run402 import RlsTable as RlsTable402

from .base import Action, ActionContext, Step, VerifyFailed
from .calls import as_dict
from .create_tables import GET_SCHEMA, schema_tables

__all__ = ["RLS", "RlsOutput"]

Template = Literal["user_owns_rows", "public_read", "public_read_write"]


class RlsTable(BaseModel):
    """One table under a template."""

    table: str
    owner_column: str | None = None


class ApplyRlsArgs(BaseModel):
    """A template and the tables it protects."""

    template: Template
    tables: list[RlsTable] = Field(min_length=1)


async def apply_rls(ctx: ActionContext, args: ApplyRlsArgs) -> dict[str, Any]:
    client = await ctx.backend.client()
    tables = [RlsTable402(table=t.table, owner_column=t.owner_column) for t in args.tables]
    result = await client.rls(
        ctx.facts["project_id"], ctx.facts["service_key"], args.template, tables,
        idempotency_key=ctx.idempotency_key,
    )
    return as_dict(result)


class RlsApplied(BaseModel):
    """The template a table is under."""

    table: str
    template: Template
    owner_column: str | None = None

    @model_validator(mode="after")
    def _owner(self) -> RlsApplied:
        if self.template == "user_owns_rows" and not self.owner_column:
            raise ValueError(f"user_owns_rows on {self.table!r} needs owner_column")
        return self


class RlsOutput(BaseModel):
    """rls_applied — every table's template."""

    rls_applied: list[RlsApplied]


async def _verify(ctx: ActionContext, output: RlsOutput) -> None:
    tables = await schema_tables(ctx)
    for entry in output.rls_applied:
        table = tables.get(entry.table)
        if table is None:
            raise VerifyFailed(f"table {entry.table!r} does not exist")
        if not table.get("rls_enabled") or not table.get("policies"):
            raise VerifyFailed(f"table {entry.table!r} has no row-level security yet; apply its template")


RLS = Step(
    number=5,
    id=StepId("rls"),
    title="Secure the Data",
    phase="implement",
    context=("project_id", "service_key", "rls_plan", "tables_created"),
    actions=(
        Action(name="apply_rls", description="Apply an RLS template to tables.", args=ApplyRlsArgs,
               run=apply_rls, summary=lambda r: f"{r.get('template')} on {', '.join(r.get('tables', []))}"),
        GET_SCHEMA,
    ),
    output=RlsOutput,
    verify=_verify,
    tell_user="I've locked things down: people can only see and change what they should.",
    memory=MemoryDirective(
        carry_forward={"project_id", "service_key", "anon_key", "tables_created"},
        store={"rls_applied"},
        discard={"rls_plan"},
    ),
)
