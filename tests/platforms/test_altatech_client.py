"""The AltaTech client against the real sandbox: every route, every error code, the naming rules."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from appwright.platforms.altatech import (
    AltaTech, ApiError, AuthenticationFailed, FieldSpec, ImportTask, InternalError, InvalidFieldName,
    InvalidParameters, InvalidTableName, RpmLimitExceeded, TableNotFound, UpgradeRequired,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

FIELDS = [
    FieldSpec(name="id", description="the task's id", type="TEXT", required=True, unique=True),
    FieldSpec(name="done", description="finished?", type="BOOLEAN", required=True),
    FieldSpec(name="rank", description="order", type="INT", unique=True),
    FieldSpec(name="due", description="deadline", type="DATETIME"),
    FieldSpec(name="hours", description="estimate", type="FLOAT"),
]


def row(n: int) -> dict[str, Any]:
    return {"id": f"r{n:05d}", "done": n % 2 == 0, "rank": n, "due": "2025-01-05T08:10:00Z", "hours": n / 4}


@pytest.fixture
async def alta(api: str) -> Any:
    async with AltaTech(api=api) as client:
        yield client


@pytest.fixture
async def key(alta: AltaTech) -> str:
    return (await alta.create_sandbox_project(f"test-{uuid.uuid4().hex[:6]}")).api_key


@pytest.fixture
async def table(alta: AltaTech, key: str) -> str:
    return (await alta.create_table(key, "tasks", "tasks of a test", FIELDS)).table_id


async def test_create_table_declares_types_and_flags(alta: AltaTech, key: str, table: str) -> None:
    page = await alta.page_records(key, table, page=1, page_size=1)
    assert page.table_info.name == "tasks" and page.total == 0
    assert [f.model_dump() for f in page.table_info.fields] == [f.model_dump() for f in FIELDS]


async def test_create_table_twice_with_one_idempotency_key_is_one_table(alta: AltaTech, key: str) -> None:
    first = await alta.create_table(key, "once", "once", FIELDS[:1], idempotency_key="k-once")
    again = await alta.create_table(key, "once", "once", FIELDS[:1], idempotency_key="k-once")
    assert first == again
    with pytest.raises(InvalidTableName, match="already exists"):
        await alta.create_table(key, "once", "once", FIELDS[:1])


@pytest.mark.parametrize(("name", "problem"), [
    ("1tasks", "start with a letter"), ("Tasks", "a-z"), ("t" * 33, "at most 32"), ("my-table", "a-z"),
    ("", "required"),
])
async def test_table_name_rules_refused_before_sending(alta: AltaTech, key: str, name: str, problem: str) -> None:
    with pytest.raises(InvalidTableName, match=problem) as caught:
        await alta.create_table(key, name, "x", FIELDS[:1])
    assert caught.value.sent is False and caught.value.field == "name" and caught.value.code == 403100


@pytest.mark.parametrize(("field", "path", "cls"), [
    ({"name": "Due"}, "fields[1].name", InvalidFieldName),
    ({"name": "f" * 33}, "fields[1].name", InvalidFieldName),
    ({"name": "id"}, "fields[1].name", InvalidFieldName),  # a second field called id
    ({"description": "d" * 129}, "fields[1].description", InvalidParameters),
    ({"description": ""}, "fields[1].description", InvalidParameters),
    ({"type": "DATE"}, "fields[1].type", InvalidParameters),
])
async def test_field_rules_name_the_field(alta: AltaTech, key: str, field: dict[str, Any], path: str,
                                          cls: type[ApiError]) -> None:
    bad = FIELDS[1].model_dump() | field
    with pytest.raises(cls) as caught:
        await alta.create_table(key, "bad", "x", [FIELDS[0], FieldSpec.model_construct(**bad)])
    assert caught.value.field == path and caught.value.sent is False
    # The sandbox applies the same rules to a request that skips the client.
    body = {"name": "bad", "description": "x", "fields": [FIELDS[0].model_dump(), bad]}
    answer = httpx.post(f"{alta.api}/v1/database/create-table", json=body,
                        headers={"Authorization": f"Bearer {key}"})
    assert answer.json()["code"] == cls.code and path in answer.json()["message"]


async def test_server_refuses_a_bad_table_name_with_403100(alta: AltaTech, key: str) -> None:
    answer = httpx.post(f"{alta.api}/v1/database/create-table", headers={"Authorization": f"Bearer {key}"},
                        json={"name": "9lives", "description": "x", "fields": [FIELDS[0].model_dump()]})
    assert answer.json()["code"] == 403100 and "start with a letter" in answer.json()["message"]


async def test_import_2500_rows_in_three_calls_with_progress(alta: AltaTech, key: str, table: str) -> None:
    rows = [row(n) for n in range(2500)]
    ids = [task for start in range(0, 2500, 1000)
           for task in await alta.import_records(key, table, rows[start:start + 1000])]
    assert len(ids) == 3
    polls: list[tuple[ImportTask, ...]] = []
    tasks = await alta.wait_for_imports(key, ids, interval=0.01, on_progress=polls.append)
    assert [(t.status, t.success_count, t.total_count, t.progress) for t in tasks] == [
        ("SUCCESS", 1000, 1000, 1.0), ("SUCCESS", 1000, 1000, 1.0), ("SUCCESS", 500, 500, 1.0)]
    assert polls and all(0.0 <= t.progress <= 1.0 for poll in polls for t in poll)
    pages = [await alta.page_records(key, table, page=p, page_size=100) for p in range(1, 26)]
    seen = [r.values["id"] for page in pages for r in page.records]
    assert sorted(seen) == sorted(r["id"] for r in rows)


async def test_import_refuses_rows_with_the_apis_reasons(alta: AltaTech, key: str, table: str) -> None:
    await alta.wait_for_imports(key, await alta.import_records(key, table, [row(1)]))
    bad = [row(2), row(1), row(3) | {"done": "maybe"}, row(4) | {"id": None}, row(2) | {"rank": 7}]
    (task,) = await alta.wait_for_imports(key, await alta.import_records(key, table, bad))
    assert (task.status, task.success_count, task.fail_count) == ("PARTIAL_SUCCESS", 1, 4)
    reasons = {d.row: d.fail_reason for d in task.fail_detail}
    assert "already stored" in reasons[2] and "`done` must be BOOLEAN" in reasons[3]
    assert "`id` is required" in reasons[4] and "duplicated (first at row `1`)" in reasons[5]


async def test_import_limits_are_checked_before_sending(alta: AltaTech, key: str, table: str) -> None:
    with pytest.raises(InvalidParameters, match="at most 1000") as caught:
        await alta.import_records(key, table, [row(n) for n in range(1001)])
    assert caught.value.sent is False
    answer = httpx.post(f"{alta.api}/v1/database/import/records", headers={"Authorization": f"Bearer {key}"},
                        json={"table_id": table, "records": [row(n) for n in range(1001)]})
    assert answer.json()["code"] == 40000


async def test_page_filter_and_keyword(alta: AltaTech, key: str, table: str) -> None:
    await alta.wait_for_imports(key, await alta.import_records(key, table, [row(n) for n in range(30)]))
    done = await alta.page_records(key, table, page=2, page_size=10, filter={"done": True})
    assert done.total == 15 and len(done.records) == 5 and all(r.values["done"] for r in done.records)
    found = await alta.page_records(key, table, keyword="R0001")
    assert sorted(r.values["id"] for r in found.records) == [f"r{n:05d}" for n in range(10, 20)]
    with pytest.raises(InvalidParameters, match="page_size"):
        await alta.page_records(key, table, page_size=101)
    answer = httpx.post(f"{alta.api}/v1/database/records/page", headers={"Authorization": f"Bearer {key}"},
                        json={"table_id": table, "page": 1, "page_size": 0})
    assert answer.json()["code"] == 40000
    with pytest.raises(InvalidParameters, match="not a field"):
        await alta.page_records(key, table, filter={"nope": 1})


async def test_update_by_id_and_unique_filter_and_create(alta: AltaTech, key: str, table: str) -> None:
    await alta.wait_for_imports(key, await alta.import_records(key, table, [row(1), row(2)]))
    first = (await alta.page_records(key, table, filter={"id": "r00001"})).records[0]
    result = await alta.update_records(key, table, [
        {"record_id": first.record_id, "updated_fields": {"hours": 9.5}},
        {"filter": {"id": "r00002"}, "updated_fields": {"done": False, "rank": 1}},  # rank 1 is taken
        {"filter": {"id": "r00003"}, "updated_fields": {"done": True}},
        {"filter": {"done": True}, "updated_fields": {"hours": 1}},  # not a unique field
    ])
    assert (result.success_count, result.fail_count) == (1, 3)
    assert [f.index for f in result.fail_detail] == [1, 2, 3]
    created = await alta.update_records(key, table, [{"filter": {"id": "r00003"},
                                                      "updated_fields": {"done": True, "rank": 3}}], is_create=True)
    assert (created.success_count, created.created_count) == (1, 1)
    assert (await alta.page_records(key, table, filter={"id": "r00001"})).records[0].values["hours"] == 9.5
    with pytest.raises(InvalidParameters, match="at most 100"):
        await alta.update_records(key, table, [{"record_id": "x", "updated_fields": {"done": True}}] * 101)


async def test_delete_by_id_and_filter(alta: AltaTech, key: str, table: str) -> None:
    await alta.wait_for_imports(key, await alta.import_records(key, table, [row(n) for n in range(5)]))
    first = (await alta.page_records(key, table, filter={"id": "r00000"})).records[0]
    deleted = await alta.delete_records(key, table, [{"record_id": first.record_id}, {"filter": {"rank": 3}},
                                                     {"record_id": "missing"}])
    assert deleted.deleted_count == 2
    assert (await alta.page_records(key, table)).total == 3
    with pytest.raises(InvalidParameters, match="at most 1000"):
        await alta.delete_records(key, table, [{"record_id": "x"}] * 1001)


async def test_unknown_table_is_403106(alta: AltaTech, key: str) -> None:
    with pytest.raises(TableNotFound) as caught:
        await alta.page_records(key, "0" * 24)
    assert caught.value.code == 403106


async def test_authentication_failures_are_40127(alta: AltaTech, table: str) -> None:
    with pytest.raises(AuthenticationFailed):
        await alta.page_records("at_not-a-key", table)
    answer = httpx.post(f"{alta.api}/v1/database/records/page", json={"table_id": table, "page": 1, "page_size": 1})
    assert (answer.status_code, answer.json()["code"]) == (401, 40127)


async def test_another_projects_key_does_not_reach_the_table(alta: AltaTech, table: str) -> None:
    other = (await alta.create_sandbox_project("other")).api_key
    with pytest.raises(TableNotFound):
        await alta.page_records(other, table)


async def test_rpm_limit_is_40008(alta: AltaTech) -> None:
    key = (await alta.create_sandbox_project("slow", rpm=3)).api_key
    for _ in range(3):
        await alta.import_results(key, ["none"])
    with pytest.raises(RpmLimitExceeded, match="3 requests per minute"):
        await alta.import_results(key, ["none"])


async def test_free_plan_is_40353(alta: AltaTech) -> None:
    key = (await alta.create_sandbox_project("free", plan="free")).api_key
    with pytest.raises(UpgradeRequired) as caught:
        await alta.create_table(key, "tasks", "x", FIELDS)
    assert caught.value.status == 403


async def test_internal_error_is_50000(alta: AltaTech, key: str, table: str, pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)  # break the table behind the sandbox's back
    try:
        schema = await conn.fetchval("SELECT slot FROM sandbox.altatech_projects p JOIN sandbox.altatech_tables t "
                                     "ON t.project_id = p.id WHERE t.id = $1", table)
        await conn.execute(f'DROP TABLE "{schema}"."tasks"')
    finally:
        await conn.close()
    with pytest.raises(InternalError) as caught:
        await alta.page_records(key, table)
    assert (caught.value.code, caught.value.status) == (50000, 500)
