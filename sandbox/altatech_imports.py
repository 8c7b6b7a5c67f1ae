"""AltaTech imports: queued by the request, stored by a background task, polled by id.

`queue` keeps the records in `sandbox.altatech_imports` in the request's transaction
(so an Idempotency-Key replay answers the same task id); `start` processes the task in
the background after the commit. A task is claimed by one `UPDATE … WHERE status =
'PENDING'`, so starting it twice (a replayed request, a poll after a restart) is harmless.

Processing checks every record (`check_row`), refuses duplicates of a unique field within
the batch and against stored rows, stores the good ones in chunks and updates `progress`
after each chunk, so a poller sees the task advance. The outcome is SUCCESS,
PARTIAL_SUCCESS or FAIL with `fail_detail` in the API's shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from typing import Any, Final

import asyncpg

from .altatech_store import AltaProject, AltaState, AltaTable, find_table
from .altatech_values import RowRefused, check_row, quote_ident

__all__ = ["queue", "start", "results"]

_CHUNK: Final = 250
_log: Final = logging.getLogger("appwright.sandbox.altatech")


async def queue(conn: asyncpg.Connection, project: AltaProject, table: AltaTable, records: list[Any]) -> str:
    """Record a pending import of `records` into `table`; its task id."""
    task_id = secrets.token_hex(12)
    await conn.execute(
        "INSERT INTO sandbox.altatech_imports (id, project_id, table_id, status, total_count, records) "
        "VALUES ($1, $2, $3, 'PENDING', $4, $5)", task_id, project.id, table.id, len(records), json.dumps(records),
    )
    return task_id


def start(state: AltaState, pool: asyncpg.Pool, project: AltaProject, task_id: str) -> None:
    """Process the task in the background, unless this server is already processing it."""
    if task_id in state.running:
        return
    state.running.add(task_id)
    job = asyncio.get_running_loop().create_task(_process(pool, project, task_id))
    state.tasks.add(job)  # keep a reference: the loop holds tasks only weakly

    def done(finished: asyncio.Task[None]) -> None:
        state.tasks.discard(finished)
        state.running.discard(task_id)

    job.add_done_callback(done)


async def results(pool: asyncpg.Pool, state: AltaState, project: AltaProject, ids: list[str]) -> list[dict[str, Any]]:
    """The tasks' states in the order asked (pending ones are started: a restart may have left them)."""
    rows = await pool.fetch(
        "SELECT id, status, progress, total_count, success_count, fail_count, fail_detail "
        "FROM sandbox.altatech_imports WHERE project_id = $1 AND id = ANY($2::text[])", project.id, ids,
    )
    found = {r["id"]: r for r in rows}
    answer = []
    for task_id in ids:
        row = found.get(task_id)
        if row is None:
            continue
        if row["status"] == "PENDING":
            start(state, pool, project, task_id)
        detail = row["fail_detail"] if isinstance(row["fail_detail"], list) else json.loads(row["fail_detail"])
        answer.append({k: row[k] for k in ("id", "status", "progress", "total_count", "success_count", "fail_count")}
                      | {"fail_detail": detail})
    return answer


async def _process(pool: asyncpg.Pool, project: AltaProject, task_id: str) -> None:
    try:
        claimed = await pool.fetchrow(
            "UPDATE sandbox.altatech_imports SET status = 'RUNNING' WHERE id = $1 AND status = 'PENDING' "
            "RETURNING table_id, records", task_id,
        )
        if claimed is None:
            return
        table = await find_table(pool, project, claimed["table_id"])
        records = claimed["records"] if isinstance(claimed["records"], list) else json.loads(claimed["records"])
        await _store_all(pool, table, task_id, records)
    except Exception as error:  # the task must end, whatever happened: a poller waits on it
        _log.exception("import %s failed", task_id)
        await pool.execute(
            "UPDATE sandbox.altatech_imports SET status = 'FAIL', progress = 1, finished_at = now(), records = NULL, "
            "fail_detail = fail_detail || $2::jsonb WHERE id = $1", task_id,
            json.dumps([{"row": None, "row_number_start": 0, "row_number_end": 0,
                         "fail_reason": f"internal system error: {type(error).__name__}"}]),
        )


async def _store_all(pool: asyncpg.Pool, table: AltaTable, task_id: str, records: list[Any]) -> None:
    good, failures = _checked(table, records)
    stored = 0
    for start_at in range(0, max(len(good), 1), _CHUNK):
        chunk = good[start_at:start_at + _CHUNK]
        kept, refused = await _store_chunk(pool, table, chunk)
        stored += kept
        failures += refused
        done = min(1.0, (start_at + len(chunk)) / max(len(good), 1))
        await pool.execute(
            "UPDATE sandbox.altatech_imports SET progress = $2, success_count = $3 WHERE id = $1",
            task_id, round(done * 0.99, 4), stored,
        )
        await asyncio.sleep(0)  # let polls in between chunks
    status = "SUCCESS" if not failures else ("PARTIAL_SUCCESS" if stored else "FAIL")
    await pool.execute(
        "UPDATE sandbox.altatech_imports SET status = $2, progress = 1, success_count = $3, fail_count = $4, "
        "fail_detail = $5::jsonb, records = NULL, finished_at = now() WHERE id = $1",
        task_id, status, stored, len(records) - stored, json.dumps(sorted(failures, key=lambda f: f["row"] or 0)),
    )


def _checked(table: AltaTable, records: list[Any]) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """Rows that pass the field rules and are not duplicates within the batch; failures for the others."""
    good, failures = [], []
    first_seen: dict[tuple[str, Any], int] = {}
    for number, record in enumerate(records, start=1):
        try:
            values = check_row(table.fields, record)
        except RowRefused as refused:
            failures.append(_failure(number, str(refused)))
            continue
        duplicate = _duplicate(table, values, number, first_seen)
        if duplicate:
            failures.append(_failure(number, duplicate))
            continue
        good.append((number, values))
    return good, failures


def _duplicate(table: AltaTable, values: dict[str, Any], number: int, seen: dict[tuple[str, Any], int]) -> str | None:
    for field in table.fields:
        if field["unique"]:
            key = (field["name"], values[field["name"]])
            if key in seen:
                return (f"`{field['name']}` must be unique, but the value '{values[field['name']]}' is duplicated "
                        f"(first at row `{seen[key]}`).")
    for field in table.fields:
        if field["unique"]:
            seen[(field["name"], values[field["name"]])] = number
    return None


async def _store_chunk(
    pool: asyncpg.Pool, table: AltaTable, chunk: list[tuple[int, dict[str, Any]]],
) -> tuple[int, list[dict[str, Any]]]:
    if not chunk:
        return 0, []
    names = [f["name"] for f in table.fields]
    columns = ", ".join(['"RID"', *map(quote_ident, names)])
    marks = ", ".join(f"${i}" for i in range(1, len(names) + 2))
    insert = f"INSERT INTO {table.qualified} ({columns}) VALUES ({marks})"
    rows = [(secrets.token_hex(12), *(values[n] for n in names)) for _, values in chunk]
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                await conn.executemany(insert, rows)
            return len(rows), []
        except asyncpg.UniqueViolationError:
            pass  # a value is already stored: store row by row to tell which
        kept, failures = 0, []
        for (number, _), row in zip(chunk, rows):
            try:
                async with conn.transaction():
                    await conn.execute(insert, *row)
                kept += 1
            except asyncpg.UniqueViolationError as error:
                failures.append(_failure(number, f"a unique value is already stored ({error.constraint_name})"))
        return kept, failures


def _failure(number: int, reason: str) -> dict[str, Any]:
    return {"row": number, "row_number_start": 0, "row_number_end": 0, "fail_reason": reason}
