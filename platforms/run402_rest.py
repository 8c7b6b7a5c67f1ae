"""REST on a project's tables, in PostgREST syntax: `Run402.rest.select/insert/update/delete`.

The `key` of every call goes in the `apikey` header: the anon key (read-only under
RLS), the service key (bypasses RLS) or a signed-in user's access token. Filters are
PostgREST's own strings, so what an agent reads in the docs it can pass as is::

    await r.rest.select("todos", anon_key, filters={"done": "eq.false"},
                        order="id.desc", limit=10)
    await r.rest.update("todos", service_key, {"done": True}, filters={"id": "eq.1"})

A `table_not_found` right after a CREATE TABLE is retried for about two seconds (the
hosted service's schema cache may lag); writes take an optional Idempotency-Key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, TypeAlias

from .run402_http import Answer, Call, Sender, parse
from .run402_models_data import Rows, RowsWritten

__all__ = ["Filters", "RestApi"]

Filters: TypeAlias = Mapping[str, str] | Sequence[tuple[str, str]]
"""PostgREST filters: `{"done": "eq.false"}`, or pairs when a column repeats
(`[("id", "gte.1"), ("id", "lte.9")]`); also `or`/`and` trees: `{"or": "(a.eq.1,b.eq.2)"}`."""

Resolution: TypeAlias = Literal["merge-duplicates", "ignore-duplicates"]
_TOTAL: Final = re.compile(r"/(\d+)\s*$")


class RestApi:
    """`/rest/v1/:table` of the project a key belongs to."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    async def select(
        self, table: str, key: str, *, filters: Filters | None = None,
        order: str | Sequence[str] | None = None, limit: int | None = None,
        offset: int | None = None, select: str | Sequence[str] | None = None, count: bool = False,
    ) -> Rows:
        """Read rows: `select` columns, `filters`, `order` (`col.desc`), `limit`/`offset`.

        With `count=True` the result's `total` is the number of matching rows.
        """
        params = [*_pairs(filters), *_options(select=select, order=order, limit=limit, offset=offset)]
        headers = {"apikey": key, **({"Prefer": "count=exact"} if count else {})}
        answer = await self._sender.send(
            Call(route="rest_select", path={"table": table}, params=params, headers=headers, secrets=(key,))
        )
        return parse(Rows, answer, rows=_rows(answer) or [], total=_total(answer))

    async def insert(
        self, table: str, key: str, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
        returning: bool = True, on_conflict: str | Sequence[str] | None = None,
        resolution: Resolution | None = None, idempotency_key: str | None = None,
    ) -> RowsWritten:
        """Insert one row or many; `on_conflict` + `resolution` make it an upsert."""
        body = dict(rows) if isinstance(rows, Mapping) else [dict(row) for row in rows]
        conflict = _csv(on_conflict)
        params = [("on_conflict", conflict)] if conflict else []
        prefer = _prefer(returning, resolution=resolution)
        return await self._write("rest_insert", table, key, body, params, prefer, idempotency_key)

    async def update(
        self, table: str, key: str, values: Mapping[str, Any], *, filters: Filters,
        returning: bool = True, idempotency_key: str | None = None,
    ) -> RowsWritten:
        """Set `values` on the rows `filters` select (pass `{}` to mean every row)."""
        prefer = _prefer(returning)
        return await self._write("rest_update", table, key, dict(values), _pairs(filters), prefer, idempotency_key)

    async def delete(
        self, table: str, key: str, *, filters: Filters, returning: bool = False,
        idempotency_key: str | None = None,
    ) -> RowsWritten:
        """Delete the rows `filters` select (pass `{}` to mean every row)."""
        prefer = _prefer(returning)
        return await self._write("rest_delete", table, key, None, _pairs(filters), prefer, idempotency_key)

    async def _write(
        self, route: Literal["rest_insert", "rest_update", "rest_delete"], table: str, key: str,
        body: Any, params: list[tuple[str, str]], prefer: str, idempotency_key: str | None,
    ) -> RowsWritten:
        call = Call(
            route=route, path={"table": table}, params=params, json=body,
            headers={"apikey": key, "Prefer": prefer}, idempotency_key=idempotency_key, secrets=(key,),
        )
        answer = await self._sender.send(call)
        return parse(RowsWritten, answer, rows=_rows(answer))


def _pairs(filters: Filters | None) -> list[tuple[str, str]]:
    if filters is None:
        return []
    items = filters.items() if isinstance(filters, Mapping) else filters
    return [(str(column), str(condition)) for column, condition in items]


def _options(
    *, select: str | Sequence[str] | None, order: str | Sequence[str] | None,
    limit: int | None, offset: int | None,
) -> list[tuple[str, str]]:
    found = {"select": _csv(select), "order": _csv(order), "limit": limit, "offset": offset}
    return [(name, str(value)) for name, value in found.items() if value is not None and value != ""]


def _csv(value: str | Sequence[str] | None) -> str | None:
    return value if value is None or isinstance(value, str) else ",".join(value)


def _prefer(returning: bool, *, resolution: Resolution | None = None) -> str:
    parts = ["return=representation" if returning else "return=minimal"]
    if resolution:
        parts.append(f"resolution={resolution}")
    return ",".join(parts)


def _rows(answer: Answer) -> list[dict[str, Any]] | None:
    return list(answer.data) if isinstance(answer.data, list) else None


def _total(answer: Answer) -> int | None:
    found = _TOTAL.search(answer.headers.get("content-range", ""))
    return int(found.group(1)) if found else None
