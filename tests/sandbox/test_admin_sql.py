"""End-to-end: admin SQL (results, errors, the gate at the route, the project role) and /schema."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio
from core import apply_rls, assert_error, create, dbval, rich_account, schema_of, service, sql, sql_ok

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def project(api: str, pg_dsn: str) -> dict[str, Any]:
    return await create(api, await rich_account(pg_dsn, 200_000), "admin-sql")


async def test_create_insert_select_answer_status_schema_rows_rowcount(api: str, project: dict[str, Any]) -> None:
    slot = project["schema_slot"]
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        created = await sql_ok(http, project, "CREATE TABLE todos (id serial PRIMARY KEY, task text NOT NULL, "
                                              "done boolean DEFAULT false, user_id uuid, at timestamptz DEFAULT now())")
        inserted = await sql_ok(http, project, "INSERT INTO todos (task) VALUES ('a'), ('b'), ('c')")
        selected = await sql_ok(http, project, "SELECT id, task, done, user_id FROM todos ORDER BY id")
        updated = await sql_ok(http, project, "UPDATE todos SET done = true WHERE id > 1")
        returning = await sql_ok(http, project, "DELETE FROM todos WHERE id = 3 RETURNING id, task")
        typed = await sql_ok(http, project, "SELECT 1.5::numeric AS n, now() AS t, gen_random_uuid() AS u, "
                                            "'{\"a\": 1}'::jsonb AS j, ARRAY[1,2] AS arr, NULL AS nothing")
    assert created == {"status": "ok", "schema": slot, "rows": [], "rowCount": 0}
    assert inserted == {"status": "ok", "schema": slot, "rows": [], "rowCount": 3}
    assert selected == {"status": "ok", "schema": slot, "rowCount": 3, "rows": [
        {"id": 1, "task": "a", "done": False, "user_id": None},
        {"id": 2, "task": "b", "done": False, "user_id": None},
        {"id": 3, "task": "c", "done": False, "user_id": None},
    ]}
    assert updated["rowCount"] == 2
    assert returning["rows"] == [{"id": 3, "task": "c"}] and returning["rowCount"] == 1
    (row,) = typed["rows"]
    assert row["n"] == 1.5 and row["j"] == {"a": 1} and row["arr"] == [1, 2] and row["nothing"] is None
    assert isinstance(row["t"], str) and len(row["u"]) == 36


async def test_several_statements_answer_with_the_last(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        body = await sql_ok(http, project, "CREATE TABLE multi (x int); INSERT INTO multi VALUES (1), (2); "
                                           "SELECT sum(x) AS s FROM multi")
    assert body["rows"] == [{"s": 2 + 1}] and body["rowCount"] == 1


async def test_identity_and_serial_columns_work(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE ident (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)")
        body = await sql_ok(http, project, "INSERT INTO ident (v) VALUES ('x'), ('y') RETURNING id")
    assert body["rows"] == [{"id": 1}, {"id": 2}]


@pytest.mark.parametrize(("text", "sqlstate", "words"), [
    ("SELECT * FROM no_such_table", "42P01", 'relation "no_such_table" does not exist'),
    ("SELECT 1/0", "22012", "division by zero"),
    ("SELECT no_such_column FROM (SELECT 1 AS a) s", "42703", "no_such_column"),
    ("CREATE TABLE dup (id int); CREATE TABLE dup (id int)", "42P07", "already exists"),
    ("SELECT 'abc'::int", "22P02", "invalid input syntax"),
])
async def test_postgres_errors_are_400_with_message_and_sqlstate(
    api: str, project: dict[str, Any], text: str, sqlstate: str, words: str,
) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answer = await sql(http, project, text)
    body = assert_error(answer, 400, "sql_error")
    assert body["sqlstate"] == sqlstate
    assert words in body["message"]


async def test_a_failing_batch_leaves_nothing_behind(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        failed = await sql(http, project, "CREATE TABLE half (id int); INSERT INTO half VALUES ('nope')")
        after = await sql(http, project, "SELECT * FROM half")
    assert failed.status_code == 400
    assert after.status_code == 400 and after.json()["sqlstate"] == "42P01"


async def test_syntax_errors_are_400(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answer = await sql(http, project, "SELEC 1")
    body = assert_error(answer, 400, "sql_syntax_error")
    assert "SELEC" in body["message"] or "syntax" in body["message"]


@pytest.mark.parametrize("text", [
    "GRANT SELECT ON todos TO PUBLIC",
    "REVOKE SELECT ON todos FROM PUBLIC",
    "CREATE EXTENSION hstore",
    "SET search_path TO public",
    "DO $$ BEGIN PERFORM 1; END $$",
    "WITH x AS (SELECT set_config('role', 'appwright', true)) SELECT * FROM x",
    "COPY (SELECT 1) TO PROGRAM 'id'",
    "CREATE SCHEMA other",
    "CREATE ROLE hacker",
    "ALTER SYSTEM SET work_mem = '1GB'",
    "SET ROLE appwright",
    "RESET ROLE",
])
async def test_blocked_statements_are_403_with_a_hint(api: str, project: dict[str, Any], text: str) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answer = await sql(http, project, text)
    body = assert_error(answer, 403)
    assert body["hint"]
    assert "not allowed" in body["message"]


async def test_a_blocked_statement_stops_the_whole_batch(api: str, project: dict[str, Any], pg_dsn: str) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answer = await sql(http, project, "CREATE TABLE sneaky (id int); GRANT ALL ON sneaky TO PUBLIC")
    assert answer.status_code == 403
    assert await dbval(pg_dsn, "SELECT to_regclass($1)", f"{project['schema_slot']}.sneaky") is None


async def test_keys(api: str, project: dict[str, Any]) -> None:
    path = f"/admin/v1/projects/{project['project_id']}/sql"
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        none = await http.post(path, content=b"SELECT 1")
        as_apikey = await http.post(path, content=b"SELECT 1", headers={"apikey": project["service_key"]})
        anon = await http.post(path, content=b"SELECT 1", headers={"Authorization": f"Bearer {project['anon_key']}"})
        junk = await http.post(path, content=b"SELECT 1", headers={"Authorization": "Bearer not-a-key"})
        basic = await http.post(path, content=b"SELECT 1", headers={"Authorization": f"Basic {project['service_key']}"})
        unknown = await http.post("/admin/v1/projects/prj_0000000000000000/sql", content=b"SELECT 1",
                                  headers=service(project))
    assert_error(none, 401, "missing_service_key")
    assert_error(as_apikey, 401, "missing_service_key")  # admin routes take the key as Bearer
    assert_error(anon, 403, "service_key_required")
    assert_error(junk, 401, "invalid_key")
    assert_error(basic, 401, "missing_service_key")
    assert_error(unknown, 403, "wrong_project")


async def test_sql_runs_as_the_project_role_in_the_projects_schema(api: str, project: dict[str, Any]) -> None:
    slot = project["schema_slot"]
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        who = await sql_ok(http, project, "SELECT current_user AS u, session_user AS s, current_schema() AS sc")
        await sql_ok(http, project, "CREATE TABLE owned (id int)")
        owner = await sql_ok(http, project, "SELECT tableowner FROM pg_tables WHERE tablename = 'owned' "
                                            "AND schemaname = current_schema()")
        sandbox = await sql(http, project, "SELECT * FROM sandbox.projects")
        accounts = await sql(http, project, "SELECT * FROM sandbox.accounts")
        superuser = await sql_ok(http, project, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    assert who["rows"] == [{"u": f"{slot}_owner", "s": "appwright", "sc": slot}]
    assert owner["rows"] == [{"tableowner": f"{slot}_owner"}]
    for denied in (sandbox, accounts):
        body = assert_error(denied, 400, "sql_error")
        assert "permission denied" in body["message"] and body["sqlstate"] == "42501"
    assert superuser["rows"] == [{"rolsuper": False}]


async def test_the_role_does_not_leak_to_the_next_call(api: str, project: dict[str, Any], pg_dsn: str) -> None:
    # many calls on the pool's connections: each one starts as the superuser and drops again
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        for _ in range(5):
            assert (await sql_ok(http, project, "SELECT current_user AS u"))["rows"] == [
                {"u": f"{project['schema_slot']}_owner"}]
    assert await dbval(pg_dsn, "SELECT count(*) FROM sandbox.projects WHERE id = $1", project["project_id"]) == 1


async def test_empty_and_huge_sql(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        empty = await sql(http, project, "")
        comment = await sql(http, project, "-- nothing here")
        huge = await http.post(f"/admin/v1/projects/{project['project_id']}/sql", headers=service(project),
                               content=b"SELECT 1; " + b"-" * 1_000_001)
    assert_error(empty, 400, "sql_syntax_error")
    assert_error(comment, 400, "sql_syntax_error")
    assert_error(huge, 413, "body_too_large")


# --- schema ----------------------------------------------------------------------------


async def test_schema_lists_tables_columns_keys_rls_and_policies(api: str, pg_dsn: str) -> None:
    project = await create(api, await rich_account(pg_dsn, 200_000), "schema")
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        empty = await schema_of(http, project)
        await sql_ok(http, project, """
            CREATE TABLE todos (id serial PRIMARY KEY, task text NOT NULL, done boolean DEFAULT false, user_id uuid);
            CREATE TABLE pairs (a int, b text, note varchar(20), PRIMARY KEY (b, a));
            CREATE TABLE bare (x numeric(10, 2));
            CREATE VIEW not_a_table AS SELECT 1 AS one;
        """)
        assert (await apply_rls(http, project, "user_owns_rows",
                                [{"table": "todos", "owner_column": "user_id"}])).status_code == 200
        body = await schema_of(http, project)
    assert empty == {"schema": project["schema_slot"], "tables": []}
    assert body["schema"] == project["schema_slot"]
    tables = {t["name"]: t for t in body["tables"]}
    assert list(tables) == ["bare", "pairs", "todos"]  # sorted, views left out

    todos = tables["todos"]
    assert todos["columns"] == [
        {"name": "id", "type": "integer", "nullable": False,
         "default": f"nextval('{project['schema_slot']}.todos_id_seq'::regclass)"},
        {"name": "task", "type": "text", "nullable": False, "default": None},
        {"name": "done", "type": "boolean", "nullable": True, "default": "false"},
        {"name": "user_id", "type": "uuid", "nullable": True, "default": "auth.uid()"},
    ]
    assert todos["primary_key"] == ["id"]
    assert todos["rls_enabled"] is True
    (policy,) = todos["policies"]
    assert policy["name"] == "aw_owner_all" and policy["command"] == "ALL"
    assert policy["roles"] == [f"{project['schema_slot']}_user"]
    assert "auth.uid()" in policy["using"] and "auth.uid()" in policy["with_check"]

    assert tables["pairs"]["primary_key"] == ["b", "a"]
    assert [c["type"] for c in tables["pairs"]["columns"]] == ["integer", "text", "character varying(20)"]
    assert [c["nullable"] for c in tables["pairs"]["columns"]] == [False, False, True]
    assert tables["pairs"]["rls_enabled"] is False and tables["pairs"]["policies"] == []
    assert tables["bare"]["primary_key"] == []
    assert tables["bare"]["columns"] == [{"name": "x", "type": "numeric(10,2)", "nullable": True, "default": None}]


async def test_schema_needs_the_service_key(api: str, project: dict[str, Any]) -> None:
    path = f"/admin/v1/projects/{project['project_id']}/schema"
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        assert_error(await http.get(path), 401, "missing_service_key")
        assert_error(await http.get(path, headers={"Authorization": f"Bearer {project['anon_key']}"}), 403,
                     "service_key_required")
