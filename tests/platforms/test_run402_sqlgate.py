"""The client's SQL gate: SQL the platform refuses never leaves the client.

Every request the client makes goes through `Recorder`, a pass-through transport over the
real one, so a test sees exactly what reached the session's sandbox; the sandbox's own
state (its schema, its answers) tells the rest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from appwright.platforms.run402 import ApiError, Budget, ProjectCreated, Run402, SqlRefused

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Recorder(httpx.AsyncBaseTransport):
    """Sends every request on to the sandbox and keeps its method and path."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path}")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def sql_calls(self) -> list[str]:
        """The admin SQL requests that reached the sandbox."""
        return [line for line in self.sent if line.endswith("/sql")]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def watched(api: str, account: LocalAccount, budget: Budget, recorder: Recorder) -> AsyncIterator[Run402]:
    """A paying client of the session's sandbox whose every request `recorder` sees."""
    async with Run402(api=api, account=account, budget=budget, transport=recorder) as client:
        yield client


async def table_names(client: Run402, project: ProjectCreated) -> list[str]:
    schema = await client.schema(project.project_id, project.service_key)
    return [table.name for table in schema.tables]


@pytest.mark.parametrize(
    ("sql", "reason", "statement", "hint"),
    [
        ("CREATE TABLE kept (id int); CREATE EXTENSION pgcrypto", "blocked_statement", "CREATE EXTENSION",
         "gen_random_uuid"),
        ("CREATE TABLE kept (id int); GRANT SELECT ON kept TO anon", "blocked_statement", "GRANT", "RLS templates"),
        ("CREATE TABLE kept (id int); SET ROLE postgres", "blocked_setting", "SET ROLE", "can't switch roles"),
        ("BEGIN; CREATE TABLE kept (id int); COMMIT", "transaction_control", "BEGIN", "one transaction"),
        ("CREATE TABLE kept (id int); COPY kept FROM PROGRAM 'id'", "blocked_statement", "COPY ... FROM PROGRAM",
         "INSERT"),
    ],
    ids=["extension", "grant", "set-role", "begin", "copy-program"],
)
async def test_blocked_sql_is_refused_and_never_sent(
    watched: Run402, recorder: Recorder, project: ProjectCreated, sql: str, reason: str, statement: str, hint: str,
) -> None:
    with pytest.raises(SqlRefused) as caught:
        await watched.sql(project.project_id, project.service_key, sql)
    refused = caught.value
    assert (refused.reason, refused.statement) == (reason, statement)
    assert hint in refused.hint and refused.hint in str(refused)
    assert refused.message == f"{statement} is not allowed" and "not sent" in str(refused)
    assert recorder.sql_calls() == []
    assert "kept" not in await table_names(watched, project)


async def test_blocked_sql_is_refused_before_the_sandbox_could_answer(watched: Run402, project: ProjectCreated) -> None:
    # The sandbox answers SQL for a deleted project with 404 before its own gate runs, so a
    # SqlRefused here was decided by the client.
    await watched.delete_project(project.project_id, project.service_key)
    with pytest.raises(ApiError) as gone:
        await watched.sql(project.project_id, project.service_key, "SELECT 1")
    assert gone.value.code == "project_not_found"
    with pytest.raises(SqlRefused):
        await watched.sql(project.project_id, project.service_key, "ALTER SYSTEM SET work_mem = '1GB'")


async def test_the_client_refuses_what_the_sandbox_refuses_in_the_same_words(
    api: str, client: Run402, project: ProjectCreated,
) -> None:
    sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'"
    with pytest.raises(SqlRefused) as caught:
        await client.sql(project.project_id, project.service_key, sql)
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post(
            f"/admin/v1/projects/{project.project_id}/sql", content=sql.encode(),
            headers={"Authorization": f"Bearer {project.service_key}", "Content-Type": "text/plain"},
        )
    assert answer.status_code == 403
    assert answer.json() == {
        "error": caught.value.reason, "message": caught.value.message, "hint": caught.value.hint,
    }


async def test_a_syntax_error_is_refused_and_never_sent(
    watched: Run402, recorder: Recorder, project: ProjectCreated,
) -> None:
    with pytest.raises(SqlRefused) as caught:
        await watched.sql(project.project_id, project.service_key, "CREATE TABLE kept (id int);\nSELEKT 1")
    refused = caught.value
    assert (refused.reason, refused.statement, refused.position) == ("sql_syntax_error", None, 29)
    assert 'syntax error at or near "SELEKT"' in refused.message
    assert "correct the SQL" in refused.hint
    assert recorder.sql_calls() == []
    assert "kept" not in await table_names(watched, project)


@pytest.mark.parametrize("sql", ["", "  -- only a comment", "SELECT 1\x00; DROP TABLE t"], ids=["empty", "comment", "nul"])
async def test_no_statement_or_a_nul_is_refused(
    watched: Run402, recorder: Recorder, project: ProjectCreated, sql: str,
) -> None:
    with pytest.raises(SqlRefused) as caught:
        await watched.sql(project.project_id, project.service_key, sql)
    assert caught.value.reason == "sql_syntax_error"
    assert recorder.sql_calls() == []


async def test_a_refusal_never_shows_the_service_key(client: Run402, project: ProjectCreated) -> None:
    key = str(project.service_key)
    with pytest.raises(SqlRefused) as caught:
        await client.sql(project.project_id, project.service_key, f"SELECT 1 '{key}'")  # the parser quotes it
    assert "syntax error" in caught.value.message
    shown = " ".join([str(caught.value), repr(caught.value), caught.value.message, caught.value.hint])
    assert key not in shown and "[redacted]" in shown


async def test_allowed_sql_is_sent_and_runs(watched: Run402, recorder: Recorder, project: ProjectCreated) -> None:
    sql = (
        "CREATE TABLE todos (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), task text NOT NULL, "
        "created_at timestamptz DEFAULT now()); CREATE INDEX todos_created ON todos (created_at); "
        "INSERT INTO todos (task) VALUES ('ship it') RETURNING task"
    )
    result = await watched.sql(project.project_id, project.service_key, sql)
    assert (result.status, result.rows, result.row_count) == ("ok", [{"task": "ship it"}], 1)
    assert recorder.sql_calls() == [f"POST /admin/v1/projects/{project.project_id}/sql"]
    assert "todos" in await table_names(watched, project)


async def test_sql_that_parses_but_fails_on_the_backend_is_the_backends_answer(
    watched: Run402, recorder: Recorder, project: ProjectCreated,
) -> None:
    # The gate knows the rules, not the schema: a missing table is for Postgres to say.
    with pytest.raises(ApiError) as caught:
        await watched.sql(project.project_id, project.service_key, "SELECT * FROM nowhere")
    assert (caught.value.status, caught.value.code) == (400, "sql_error")
    assert len(recorder.sql_calls()) == 1
