"""AltaTech's own declarations of provision, create_tables and seed.

Same ids, numbers and titles as the Run402 steps, so the route, the log and the memory
keys line up; their actions speak the AltaTech client (`ctx.backend.client()` is an
`AltaTech` on this platform), and the project's credential is `api_key`, kept secret.

* provision: `create_project` asks the sandbox for a project and its API key (the hosted
  service issues keys on its API key page);
* create_tables: `create_table` translates one CREATE TABLE (`altatech_tables`) and sends
  the declaration; what AltaTech cannot express is refused, naming each column;
* seed: `import_rows` imports a table's rows, 1,000 a call, and waits for the tasks.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from appwright.memory import MemoryDirective, StepId
from appwright.platforms.altatech import AltaTechError, ApiError
from appwright.platforms.altatech_rules import MAX_IMPORT

from .altatech_tables import Untranslatable, translate
from .base import Action, ActionContext, ActionFailed, Step, VerifyFailed
from .calls import as_dict
from .seed import SeedOutput

__all__ = ["PROVISION_ALTATECH", "CREATE_TABLES_ALTATECH", "SEED_ALTATECH"]


class NoArgs(BaseModel):
    """This action takes no arguments."""


class CreateTableArgs(BaseModel):
    """One CREATE TABLE, declared on AltaTech."""

    sql: str = Field(min_length=1, description="One CREATE TABLE; no DEFAULT, REFERENCES or CHECK")
    description: str | None = Field(default=None, max_length=128, description="What the table holds")


class TableArgs(BaseModel):
    """A table by its id."""

    table_id: str


class ImportArgs(BaseModel):
    """Rows to import into one table (any number: sent 1,000 a call)."""

    table: str
    rows: list[dict[str, Any]] = Field(min_length=1)


def _refused(error: AltaTechError) -> ActionFailed:
    return ActionFailed(f"not done: {error}")


# --- provision ----------------------------------------------------------------------


async def create_project(ctx: ActionContext, args: NoArgs) -> dict[str, Any]:
    client = await ctx.backend.client()
    project = await client.create_sandbox_project(ctx.facts["app"]["name"], idempotency_key=ctx.idempotency_key)
    return as_dict(project)


class AltaProvisionOutput(BaseModel):
    """The AltaTech project and its API key."""

    project_id: str
    api_key: str


async def _verify_provision(ctx: ActionContext, output: AltaProvisionOutput) -> None:
    client = await ctx.backend.client()
    try:
        await client.import_results(output.api_key, ["none"])  # any authenticated read
    except ApiError as error:
        raise VerifyFailed(f"the API key of {output.project_id} is refused: {error}") from None


PROVISION_ALTATECH = Step(
    number=2, id=StepId("provision"), title="Provision the Backend", phase="implement", prompt="provision_altatech",
    context=("app",),
    actions=(Action(name="create_project", description="Create an AltaTech project and its API key (sandbox).",
                    args=NoArgs, run=create_project, summary=lambda r: f"project {r.get('project_id')}"),),
    output=AltaProvisionOutput, verify=_verify_provision,
    tell_user="Your app has a home: an AltaTech project ({project_id}) with its own API key.",
    memory=MemoryDirective(carry_forward={"app"}, store={"project_id", "api_key"}, secret={"api_key"}),
    secret_fields=frozenset({"api_key"}),
)


# --- create_tables ------------------------------------------------------------------


async def create_table(ctx: ActionContext, args: CreateTableArgs) -> dict[str, Any]:
    try:
        table = translate(args.sql)
    except Untranslatable as refused:
        raise ActionFailed(f"not sent: {refused}. Rewrite the CREATE TABLE without those.") from None
    description = args.description or f"{table.name}: declared by appwright from its CREATE TABLE"
    client = await ctx.backend.client()
    try:
        created = await client.create_table(ctx.facts["api_key"], table.name, description[:128], table.fields,
                                            idempotency_key=ctx.idempotency_key)
    except ApiError as error:
        raise _refused(error) from None
    return {"name": table.name, "table_id": created.table_id, "fields": [f.model_dump() for f in table.fields]}


async def describe_table(ctx: ActionContext, args: TableArgs) -> dict[str, Any]:
    client = await ctx.backend.client()
    page = await client.page_records(ctx.facts["api_key"], args.table_id, page=1, page_size=1)
    return {**as_dict(page.table_info), "total": page.total}


class AltaTableCreated(BaseModel):
    """A table, its AltaTech id and its fields."""

    name: str
    table_id: str
    columns: list[str]


class AltaCreateTablesOutput(BaseModel):
    """tables_created — the tables declared, with their ids and fields."""

    tables_created: list[AltaTableCreated] = Field(min_length=1)


async def _verify_tables(ctx: ActionContext, output: AltaCreateTablesOutput) -> None:
    client = await ctx.backend.client()
    for table in output.tables_created:
        try:
            info = (await client.page_records(ctx.facts["api_key"], table.table_id, page=1, page_size=1)).table_info
        except ApiError as error:
            raise VerifyFailed(f"table {table.name!r} ({table.table_id}): {error}") from None
        declared = {f.name for f in info.fields}
        missing = [c for c in table.columns if c not in declared]
        if info.name != table.name or missing:
            raise VerifyFailed(f"table {table.table_id} is {info.name!r} with fields {', '.join(sorted(declared))}; "
                               f"expected {table.name!r} with {', '.join(table.columns)}")


CREATE_TABLES_ALTATECH = Step(
    number=3, id=StepId("create_tables"), title="Create Database Tables", phase="implement",
    prompt="create_tables_altatech", context=("app", "project_id", "api_key", "table_plan"),
    actions=(
        Action(name="create_table", description="Declare a table on AltaTech from one CREATE TABLE.",
               args=CreateTableArgs, run=create_table, summary=lambda r: f"{r.get('name')} → {r.get('table_id')}"),
        Action(name="describe_table", description="A table's declared fields and its record count.",
               args=TableArgs, run=describe_table, summary=lambda r: f"{r.get('name')}: {r.get('field_count')} fields"),
    ),
    output=AltaCreateTablesOutput, verify=_verify_tables,
    tell_user="I've set up the storage for your app. Everything your app needs to remember will go here.",
    memory=MemoryDirective(carry_forward={"project_id", "api_key", "app"}, store={"tables_created"},
                           discard={"table_plan"}),
)


# --- seed ---------------------------------------------------------------------------


async def import_rows(ctx: ActionContext, args: ImportArgs) -> dict[str, Any]:
    table_id = _table_id(ctx, args.table)
    client, key = await ctx.backend.client(), ctx.facts["api_key"]
    ids: list[str] = []
    try:
        for number, start in enumerate(range(0, len(args.rows), MAX_IMPORT)):
            # One key per call of the batch: a resent batch re-asks each call under its own key.
            call_key = f"{ctx.idempotency_key}:{number}" if ctx.idempotency_key else None
            ids += await client.import_records(key, table_id, args.rows[start:start + MAX_IMPORT],
                                               idempotency_key=call_key)
        tasks = await client.wait_for_imports(key, ids)
    except AltaTechError as error:
        raise _refused(error) from None
    failed = sum(t.fail_count for t in tasks)
    if failed:
        reasons = "; ".join(f"row {d.row}: {d.fail_reason}" for t in tasks for d in t.fail_detail[:5])
        raise ActionFailed(f"{failed} of {len(args.rows)} rows of {args.table!r} were not imported: {reasons}")
    return {"table": args.table, "tasks": ids, "imported": sum(t.success_count for t in tasks)}


def _table_id(ctx: ActionContext, name: str) -> str:
    for table in ctx.facts["tables_created"]:
        if table["name"] == name:
            return str(table["table_id"])
    known = ", ".join(t["name"] for t in ctx.facts["tables_created"])
    raise ActionFailed(f"no table {name!r} was created; the tables are: {known}")


async def _verify_seed(ctx: ActionContext, output: SeedOutput) -> None:
    client = await ctx.backend.client()
    for entry in output.seeded:
        page = await client.page_records(ctx.facts["api_key"], _table_id(ctx, entry.table), page=1, page_size=1)
        if page.total != entry.rows:
            raise VerifyFailed(f"table {entry.table!r} has {page.total} records, not the {entry.rows} seeded")


SEED_ALTATECH = Step(
    number=4, id=StepId("seed"), title="Seed Data", phase="implement", prompt="seed_altatech",
    context=("project_id", "api_key", "seed_plan", "tables_created"),
    actions=(Action(name="import_rows", description="Import rows into a table and wait until they are stored.",
                    args=ImportArgs, run=import_rows,
                    summary=lambda r: f"{r.get('imported')} rows into {r.get('table')}"),),
    output=SeedOutput, verify=_verify_seed,
    tell_user="I've added some starting content so your app doesn't feel empty on day one.",
    memory=MemoryDirective(carry_forward={"project_id", "api_key", "tables_created"}, store={"seeded"},
                           discard={"seed_plan"}),
)
