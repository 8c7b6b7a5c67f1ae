"""Read plans: a REST read's query string turned into SQL, once.

The SQL of a read depends on nothing but the project's schema, the table, the query
string and whether an exact count is asked for: filter values are quoted into it, and
the table is looked up by Postgres when the SQL runs. So a plan is built once and kept
(a deployed app asks the same few reads over and over), and the parse and the SQL
building, a sixth of a read's Python, happen once per distinct read.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import QueryParams

from . import postgrest
from .errors import ApiError

__all__ = ["ReadPlan", "ReadPlans", "MAX_KEPT_QUERY"]

MAX_KEPT_QUERY = 2048
"""Longer query strings are planned each time, never kept: an app's repeated reads are
short, and long ones (a varying `id=in.(…)` list) would fill the memory with plans
that are not asked for again."""


@dataclass(frozen=True, kw_only=True)
class ReadPlan:
    """A read's SQL, built from its query string."""

    sql: str
    """The statement `sandbox.rest_read` runs: one row of (body, total, returned)."""
    offset: int
    """The page's first row, for `Content-Range`."""


class ReadPlans:
    """Read plans by schema, table, query string and count preference, the latest few thousand."""

    def __init__(self, *, size: int = 4096) -> None:
        self._size = size
        self._plans: dict[tuple[str, str, bytes, bool], ReadPlan] = {}

    def plan(self, schema: str, table: str, query_string: bytes, *, exact_count: bool) -> ReadPlan:
        """The plan of a read, or a 400 that says what is wrong with its query."""
        key = (schema, table, query_string, exact_count)
        found = self._plans.get(key)
        if found is None:
            found = _build(schema, table, query_string, exact_count=exact_count)
            if len(query_string) > MAX_KEPT_QUERY:
                return found
            if len(self._plans) >= self._size:
                del self._plans[next(iter(self._plans))]  # the oldest
            self._plans[key] = found
        return found


def _build(schema: str, table: str, query_string: bytes, *, exact_count: bool) -> ReadPlan:
    try:
        query = postgrest.parse_read(QueryParams(query_string).multi_items())
        sql, _ = postgrest.build_select(schema, table, query, exact_count=exact_count)
    except postgrest.QueryError as error:
        raise ApiError(400, "invalid_query", error.message, hint=error.hint) from None
    return ReadPlan(sql=sql, offset=query.offset)
