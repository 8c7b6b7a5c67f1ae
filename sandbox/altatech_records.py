"""AltaTech records: a page (filter, keyword), updates (up to 100) and deletions (up to 1,000).

Records are found by `record_id` or by a `filter` of one unique field (so that an update
or a deletion names exactly one record); a page's filter may name any fields, all of
which must match. A keyword matches any field's text, case-insensitively.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import asyncpg

from .altatech_store import AltaError, AltaTable
from .altatech_values import RowRefused, check_row, coerce, jsonable_value, quote_ident

__all__ = ["page", "update", "delete"]


async def page(conn: asyncpg.Connection, table: AltaTable, *, number: int, size: int,
               filter: Any, keyword: Any) -> dict[str, Any]:
    """One page of the table's records, oldest first."""
    where, args = _conditions(table, filter)
    if keyword is not None:
        if not isinstance(keyword, str):
            raise AltaError(40000, "Invalid parameters: keyword must be a string")
        texts = " || ' ' || ".join(f"coalesce({quote_ident(f['name'])}::text, '')" for f in table.fields)
        args.append(f"%{_escape_like(keyword)}%")
        where.append(f"({texts}) ILIKE ${len(args)}")
    where_sql = " AND ".join(where) or "true"
    total = await conn.fetchval(f"SELECT count(*) FROM {table.qualified} WHERE {where_sql}", *args)
    names = [f["name"] for f in table.fields]
    rows = await conn.fetch(
        f'SELECT "RID", "CREATED", "UPDATED", {", ".join(map(quote_ident, names))} FROM {table.qualified} '
        f'WHERE {where_sql} ORDER BY "CREATED", "RID" LIMIT {size} OFFSET {(number - 1) * size}', *args,
    )
    records = [{"record_id": r["RID"], "created_at": r["CREATED"].isoformat(), "updated_at": r["UPDATED"].isoformat(),
                "values": {n: jsonable_value(r[n]) for n in names}} for r in rows]
    return {"table_info": table.info(), "records": records, "page": number, "page_size": size, "total": total}


async def update(conn: asyncpg.Connection, table: AltaTable, entries: list[Any], *, is_create: bool) -> dict[str, Any]:
    """Apply each update in its own savepoint; report what failed and why."""
    done = created = 0
    failures: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        try:
            async with conn.transaction():
                created += await _update_one(conn, table, entry, is_create=is_create)
            done += 1
        except (AltaError, RowRefused) as error:
            failures.append({"index": index, "reason": getattr(error, "message", str(error))})
        except asyncpg.UniqueViolationError as error:
            failures.append({"index": index, "reason": f"a unique value is already stored ({error.constraint_name})"})
        except asyncpg.NotNullViolationError as error:
            failures.append({"index": index, "reason": f"`{error.column_name}` is required and must have a value"})
    return {"total_count": len(entries), "success_count": done, "fail_count": len(failures),
            "created_count": created, "fail_detail": failures}


async def delete(conn: asyncpg.Connection, table: AltaTable, entries: list[Any]) -> dict[str, Any]:
    """Delete the records named; how many there were."""
    ids: list[str] = []
    for index, entry in enumerate(entries):
        where, args = _target(table, entry, f"delete_data[{index}]")
        ids += [r["RID"] for r in await conn.fetch(f'SELECT "RID" FROM {table.qualified} WHERE {where}', *args)]
    deleted = await conn.execute(f'DELETE FROM {table.qualified} WHERE "RID" = ANY($1::text[])', ids)
    return {"deleted_count": int(deleted.split()[-1])}


async def _update_one(conn: asyncpg.Connection, table: AltaTable, entry: Any, *, is_create: bool) -> int:
    where, args = _target(table, entry, "update_data")
    fields = entry.get("updated_fields")
    if not isinstance(fields, Mapping) or not fields:
        raise AltaError(40000, "updated_fields must be an object of field name → value")
    values = {name: _value(table, name, value) for name, value in fields.items()}
    record = await conn.fetchval(f'SELECT "RID" FROM {table.qualified} WHERE {where}', *args)
    if record is not None:
        sets = ", ".join(f"{quote_ident(n)} = ${i}" for i, n in enumerate(values, start=2))
        await conn.execute(f'UPDATE {table.qualified} SET {sets}, "UPDATED" = now() WHERE "RID" = $1',
                           record, *values.values())
        return 0
    if not is_create:
        raise AltaError(40000, "no record matches (set is_create to create it)")
    row = check_row(table.fields, {**(entry.get("filter") or {}), **fields})
    names = list(row)
    marks = ", ".join(f"${i}" for i in range(2, len(names) + 2))
    await conn.execute(
        f'INSERT INTO {table.qualified} ("RID", {", ".join(map(quote_ident, names))}) VALUES ($1, {marks})',
        secrets.token_hex(12), *row.values(),
    )
    return 1


def _target(table: AltaTable, entry: Any, where: str) -> tuple[str, list[Any]]:
    """SQL naming one record: by record_id (preferred), else by a filter on one unique field."""
    if not isinstance(entry, Mapping):
        raise AltaError(40000, f"Invalid parameters: each {where} entry is an object")
    if isinstance(entry.get("record_id"), str) and entry["record_id"]:
        return '"RID" = $1', [entry["record_id"]]
    filter = entry.get("filter")
    if not isinstance(filter, Mapping) or len(filter) != 1:
        raise AltaError(40000, f"Invalid parameters: {where} needs record_id, or a filter on one unique field")
    (name, value), = filter.items()
    field = table.field(name)
    if field is None or not field["unique"]:
        raise AltaError(40000, f"Invalid parameters: the filter must use a unique field, and {name!r} is not one")
    return f"{quote_ident(name)} = $1", [_value(table, name, value)]


def _conditions(table: AltaTable, filter: Any) -> tuple[list[str], list[Any]]:
    if filter is None:
        return [], []
    if not isinstance(filter, Mapping):
        raise AltaError(40000, "Invalid parameters: filter must be an object of field name → value")
    where, args = [], []
    for name, value in filter.items():
        args.append(_value(table, name, value))
        where.append(f"{quote_ident(name)} = ${len(args)}")
    return where, args


def _value(table: AltaTable, name: str, value: Any) -> Any:
    field = table.field(name)
    if field is None:
        raise AltaError(40000, f"Invalid parameters: {name!r} is not a field of table {table.name!r}")
    try:
        return coerce(field, value)
    except (ValueError, TypeError, OverflowError):
        raise AltaError(40000, f"Invalid parameters: {name!r} is {field['type']}, and {value!r} is not") from None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
