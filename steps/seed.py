"""Step 4: Seed Data — insert the starting rows so the app feels alive on first load."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from appwright.memory import MemoryDirective, StepId

from .base import Action, ActionContext, Step, VerifyFailed
from .create_tables import RUN_SQL

__all__ = ["SEED", "SeedOutput"]


class InsertArgs(BaseModel):
    """Rows to insert into one table through the REST API."""

    table: str
    rows: list[dict[str, Any]] = Field(min_length=1)


async def insert_rows(ctx: ActionContext, args: InsertArgs) -> dict[str, Any]:
    client = await ctx.backend.client()
    written = await client.rest.insert(
        args.table, ctx.facts["service_key"], args.rows, returning=True, idempotency_key=ctx.idempotency_key,
    )
    return {"table": args.table, "inserted": len(written.rows or []), "replayed": written.replayed}


class Seeded(BaseModel):
    """How many rows a table was seeded with."""

    table: str
    rows: int = Field(ge=0)


class SeedOutput(BaseModel):
    """seeded — rows inserted per table."""

    seeded: list[Seeded]


async def count_rows(ctx: ActionContext, table: str) -> int:
    """How many rows a table has, counted by the backend with the service key."""
    client = await ctx.backend.client()
    found = await client.rest.select(table, ctx.facts["service_key"], count=True, limit=1)
    return int(found.total if found.total is not None else len(found.rows))


async def _verify(ctx: ActionContext, output: SeedOutput) -> None:
    for entry in output.seeded:
        actual = await count_rows(ctx, entry.table)
        if actual != entry.rows:
            raise VerifyFailed(f"table {entry.table!r} has {actual} rows, not the {entry.rows} seeded")


SEED = Step(
    number=4,
    id=StepId("seed"),
    title="Seed Data",
    phase="implement",
    context=("project_id", "service_key", "seed_plan", "tables_created"),
    actions=(
        Action(name="insert_rows", description="Insert rows into a table (REST, service key).",
               args=InsertArgs, run=insert_rows,
               summary=lambda r: f"{r.get('inserted')} rows into {r.get('table')}"),
        RUN_SQL,
    ),
    output=SeedOutput,
    verify=_verify,
    tell_user="I've added some starting content so your app doesn't feel empty on day one.",
    memory=MemoryDirective(
        carry_forward={"project_id", "service_key", "anon_key", "tables_created"},
        store={"seeded"},
        discard={"seed_plan"},
    ),
)
