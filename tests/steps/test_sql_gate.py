"""The steps' SQL action refuses what the platform would refuse, before anything is sent.

`run_sql` (create_tables, and seed's copy of it) runs against the session's sandbox; what
it refuses must leave the sandbox untouched, and the agent must read what was blocked and
what to write instead.
"""

from __future__ import annotations

from typing import Any

import pytest
from stepkit import backend, ctx, facts  # noqa: F401 (fixtures)

from appwright.steps import CREATE_TABLES, SEED, ActionContext, ActionFailed, Step

pytestmark = pytest.mark.asyncio(loop_scope="session")

sql_steps = pytest.mark.parametrize("step", [CREATE_TABLES, SEED], ids=["create_tables", "seed"])


async def run_sql(step: Step, ctx: ActionContext, sql: str) -> dict[str, Any]:
    action = step.action("run_sql")
    return await action.run(ctx, action.args(sql=sql))


async def tables(ctx: ActionContext) -> list[str]:
    action = CREATE_TABLES.action("get_schema")
    schema = await action.run(ctx, action.args())
    return [table["name"] for table in schema["tables"]]


@sql_steps
@pytest.mark.parametrize(
    ("sql", "blocked", "fix"),
    [
        ("CREATE TABLE notes (id serial PRIMARY KEY); CREATE EXTENSION pgcrypto", "CREATE EXTENSION",
         "gen_random_uuid() needs no extension"),
        ("CREATE TABLE notes (id serial PRIMARY KEY); GRANT ALL ON notes TO anon", "GRANT", "RLS templates"),
        ("SET search_path = public; CREATE TABLE notes (id serial PRIMARY KEY)", "SET search_path",
         "leave search_path alone"),
        ("CREATE SCHEMA extra; CREATE TABLE notes (id serial PRIMARY KEY)", "CREATE SCHEMA",
         "without a schema name"),
    ],
    ids=["extension", "grant", "search-path", "schema"],
)
async def test_blocked_sql_is_an_action_failure_and_nothing_is_created(
    step: Step, ctx: ActionContext, sql: str, blocked: str, fix: str,
) -> None:
    with pytest.raises(ActionFailed) as caught:
        await run_sql(step, ctx, sql)
    message = str(caught.value)
    assert message.startswith(f"not sent: {blocked} is not allowed")
    assert "To fix it: " in message and fix in message
    assert "notes" not in await tables(ctx)


async def test_a_blocked_statement_never_reaches_the_sandbox(ctx: ActionContext) -> None:
    # The sandbox answers a deleted project's SQL with 404 before its own gate, so only a
    # refusal made before sending can turn into ActionFailed here.
    client = await ctx.backend.client()
    await client.delete_project(ctx.facts["project_id"], ctx.facts["service_key"])
    with pytest.raises(ActionFailed, match="DROP ROLE is not allowed"):
        await run_sql(CREATE_TABLES, ctx, "DROP ROLE anon")


@sql_steps
async def test_a_syntax_error_is_an_action_failure_that_points_at_it(step: Step, ctx: ActionContext) -> None:
    with pytest.raises(ActionFailed) as caught:
        await run_sql(step, ctx, "CREATE TABLE notes (id serial PRIMARY KEY);\nINSERT INTO notes VALUE (1)")
    message = str(caught.value)
    assert message.startswith('not sent: syntax error at or near "VALUE"')
    assert "(sql_syntax_error)" in message and "To fix it: correct the SQL" in message
    assert "notes" not in await tables(ctx)


async def test_allowed_sql_runs(ctx: ActionContext) -> None:
    created = await run_sql(
        CREATE_TABLES, ctx,
        "CREATE TABLE notes (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), body text NOT NULL, "
        "created_at timestamptz DEFAULT now())",
    )
    assert created["status"] == "ok"
    seeded = await run_sql(SEED, ctx, "INSERT INTO notes (body) VALUES ('hello'), ('world') RETURNING body")
    assert [row["body"] for row in seeded["rows"]] == ["hello", "world"]
    assert "notes" in await tables(ctx)
