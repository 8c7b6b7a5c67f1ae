"""PostgREST query syntax → SQL, for the sandbox's `/rest/v1/:table` routes.

The module is pure: `postgrest_query` parses query parameters and the `Prefer` header
(its public names are re-exported here), and this module builds SQL text plus asyncpg
arguments from them and from the bodies. The route runs that SQL inside a transaction
where it has already done `SET LOCAL ROLE`, `SET LOCAL search_path` and set
`request.jwt.claims`, so row-level security decides what each statement may see.

Every statement built here returns exactly one row, so the route can always use
`fetchrow`:

* reads: `(body text, total bigint | NULL)`;
* writes: `(body text, affected bigint)`.

`body` is a JSON array built by Postgres (`json_agg`), `'[]'` when there is nothing
to show. Identifiers are always double-quoted; filter values become string literals
(see `quote_literal` for why they are not `$n` parameters).

Supported: `select=*|a,b`, filters `col=[not.]op.value` with `eq neq gt gte lt lte
like ilike is in`, logic trees `or=(...)`/`and=(...)` (also `not.or`, `not.and`,
nested), `order=a.desc.nullslast,b`, `limit`, `offset`, `columns` and `on_conflict`
for inserts, `Prefer: return=…, count=…, resolution=…`. Embedded resources, aliases,
casts and JSON paths in `select` are rejected with a `QueryError`.
"""

from __future__ import annotations

import json

from .postgrest_query import (
    _COMPARISONS,
    _IS_VALUES,
    _LOGIC_HINT,
    FILTER_HINT,
    Condition,
    Filter,
    FilterGroup,
    OrderBy,
    Prefer,
    QueryError,
    ReadQuery,
    _check_identifier,
    parse_columns,
    parse_filters,
    parse_on_conflict,
    parse_prefer,
    parse_read,
)

__all__ = [
    "Condition",
    "Filter",
    "FilterGroup",
    "OrderBy",
    "Prefer",
    "QueryError",
    "ReadQuery",
    "build_delete",
    "build_insert",
    "build_select",
    "build_update",
    "content_range",
    "parse_columns",
    "parse_filters",
    "parse_on_conflict",
    "parse_prefer",
    "parse_read",
    "primary_key_query",
    "quote_ident",
    "quote_literal",
]

# Alias of the row source; `alias.*` in json_agg can never clash with a column name.
_ROWS = "_appwright_rows"


# --- quoting -------------------------------------------------------------------------


def quote_ident(name: str) -> str:
    """Double-quote an identifier, doubling embedded quotes (Postgres' rule)."""
    _check_identifier(name)
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Render `value` as an untyped SQL string literal.

    Filter values are literals, not `$n` parameters, on purpose: the column's type is
    unknown when the SQL is built, and asyncpg types every parameter strictly (a
    `$1` compared with an int column must be sent as an int). An untyped literal
    lets Postgres coerce the text to the column's type itself, exactly as PostgREST
    behaves, and a bad value becomes Postgres' own 22P02 error.
    Quotes are doubled; with a backslash we use the E'' form and double backslashes
    too (Postgres' own `quote_literal`), which is right whatever
    `standard_conforming_strings` says. NUL cannot be represented: rejected.
    """
    if "\x00" in value:
        raise QueryError("values cannot contain NUL bytes", "remove the %00 from the value")
    quoted = value.replace("'", "''")
    if "\\" in quoted:
        return "E'" + quoted.replace("\\", "\\\\") + "'"
    return "'" + quoted + "'"



def _table_ref(schema: str, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}"



# --- SQL: conditions -----------------------------------------------------------------


def _where(conditions: tuple[Condition, ...]) -> str:
    if not conditions:
        return ""
    return " WHERE " + " AND ".join(_render_condition(c) for c in conditions)


def _render_condition(condition: Condition) -> str:
    sql = _render_group(condition) if isinstance(condition, FilterGroup) else _render_filter(condition)
    return f"NOT ({sql})" if condition.negate else sql


def _render_group(group: FilterGroup) -> str:
    if group.kind not in ("or", "and") or not group.items:
        raise QueryError(f"bad logic group '{group.kind}' with {len(group.items)} items", _LOGIC_HINT)
    joiner = f" {group.kind.upper()} "
    return "(" + joiner.join(_render_condition(item) for item in group.items) + ")"


def _render_filter(f: Filter) -> str:
    column = quote_ident(f.column)
    if f.op == "is":
        keyword = _IS_VALUES.get(f.value if isinstance(f.value, str) else "null")
        if keyword is None:
            raise QueryError(f"'{f.column}=is.{f.value}' is not allowed", FILTER_HINT)
        return f"{column} IS {keyword}"
    if f.op == "in" and isinstance(f.value, list):
        # `x IN ()` is a syntax error; an empty list matches nothing.
        return f"{column} IN ({', '.join(map(quote_literal, f.value))})" if f.value else "FALSE"
    if f.op in _COMPARISONS and isinstance(f.value, str):
        return f"{column} {_COMPARISONS[f.op]} {quote_literal(f.value)}"
    raise QueryError(f"unknown operator '{f.op}' (or bad value) for '{f.column}'", FILTER_HINT)


# --- SQL: reads ----------------------------------------------------------------------


def build_select(schema: str, table: str, q: ReadQuery, *, exact_count: bool) -> tuple[str, list[object]]:
    """One row: the page as a JSON array text, the filtered total (or NULL), the page's size."""
    source = _table_ref(schema, table)
    where = _where(q.filters)
    page = f"SELECT {_select_list(q.columns)} FROM {source}{where}{_order_by(q.order)}{_paging(q)}"
    total = f"(SELECT count(*) FROM {source}{where})" if exact_count else "NULL::bigint"
    # As in PostgREST, json_agg reads an ordered subquery with nothing (no join) above
    # it that could reorder rows: the way Postgres' docs give for ordered aggregates.
    sql = (
        f"SELECT coalesce(json_agg({_ROWS}.*), '[]')::text AS body, {total} AS total, "
        f"count(*) AS returned FROM ({page}) AS {_ROWS}"
    )
    return sql, []


def _select_list(columns: tuple[str, ...] | None) -> str:
    return "*" if columns is None else ", ".join(map(quote_ident, columns))


def _order_by(order: tuple[OrderBy, ...]) -> str:
    if not order:
        return ""
    return " ORDER BY " + ", ".join(map(_order_term, order))


def _order_term(term: OrderBy) -> str:
    sql = quote_ident(term.column) + (" DESC" if term.descending else " ASC")
    if term.nulls is not None:
        if term.nulls not in ("first", "last"):
            raise QueryError(f"nulls must be 'first' or 'last', got '{term.nulls}'")
        sql += f" NULLS {term.nulls.upper()}"
    return sql


def _paging(q: ReadQuery) -> str:
    if q.offset < 0 or (q.limit is not None and q.limit < 0):
        raise QueryError("limit and offset must be non-negative")
    limit = "" if q.limit is None else f" LIMIT {int(q.limit)}"
    return limit + (f" OFFSET {int(q.offset)}" if q.offset else "")


def content_range(offset: int, returned: int, total: int | None) -> str:
    """The `Content-Range` header: `0-9/123`, `0-9/*` without a count, `*/0` if empty."""
    size = "*" if total is None else str(total)
    if returned <= 0:
        return f"*/{size}"
    return f"{offset}-{offset + returned - 1}/{size}"


# --- SQL: writes ---------------------------------------------------------------------


def build_insert(
    schema: str,
    table: str,
    rows: list[dict[str, object]],
    *,
    returning: bool,
    columns: tuple[str, ...] | None = None,
    resolution: str | None = None,
    on_conflict: tuple[str, ...] | None = None,
) -> tuple[str, list[object]]:
    """INSERT the body's rows through `json_populate_recordset`, as PostgREST does.

    The target columns are `columns` or the union of the rows' keys, so a column no
    row mentions gets its default; a key missing from only some rows is NULL there
    (PostgREST's default). `resolution` ("merge-duplicates"/"ignore-duplicates")
    with `on_conflict` makes it an upsert.
    """
    source = _table_ref(schema, table)
    targets = _insert_columns(rows, columns)
    names = ", ".join(map(quote_ident, targets))
    column_list = f" ({names})" if targets else ""
    dml = (
        f"INSERT INTO {source}{column_list} SELECT {names} "
        f"FROM json_populate_recordset(NULL::{source}, $1::json)"
        f"{_conflict_clause(targets, resolution, on_conflict)}"
    )
    return _write_result(dml, returning=returning), [json.dumps(rows)]


def _insert_columns(rows: list[dict[str, object]], columns: tuple[str, ...] | None) -> tuple[str, ...]:
    if not all(isinstance(row, dict) for row in rows):
        raise QueryError("the body must be a JSON object or an array of objects")
    # dict keeps first-seen order: the columns follow the body.
    names = columns if columns is not None else tuple(dict.fromkeys(k for row in rows for k in row))
    for name in names:
        _check_identifier(name)
    return names


def _conflict_clause(targets: tuple[str, ...], resolution: str | None, on_conflict: tuple[str, ...] | None) -> str:
    if resolution is None:
        return ""
    target = f" ({', '.join(map(quote_ident, on_conflict))})" if on_conflict else ""
    if resolution == "ignore-duplicates" or not targets:
        return f" ON CONFLICT{target} DO NOTHING"
    if resolution != "merge-duplicates":
        raise QueryError(f"unknown resolution '{resolution}'", "use merge-duplicates or ignore-duplicates")
    if not target:
        raise QueryError("merge-duplicates needs the conflict columns", "add on_conflict=col (or a primary key)")
    updates = ", ".join(f"{quote_ident(c)} = EXCLUDED.{quote_ident(c)}" for c in targets)
    return f" ON CONFLICT{target} DO UPDATE SET {updates}"


def build_update(
    schema: str,
    table: str,
    values: dict[str, object],
    filters: tuple[Condition, ...],
    *,
    returning: bool,
) -> tuple[str, list[object]]:
    """UPDATE the filtered rows with the body's keys (typed by `json_populate_record`).

    No filter updates every row the role may see, as in PostgREST: RLS decides.
    """
    if not isinstance(values, dict) or not values:
        raise QueryError("nothing to update: the body has no columns", 'send e.g. {"done": true}')
    source = _table_ref(schema, table)
    names = ", ".join(map(quote_ident, values))
    # A row-valued sub-SELECT (not UPDATE ... FROM) keeps filter columns unambiguous.
    dml = (
        f"UPDATE {source} SET ({names}) = "
        f"(SELECT {names} FROM json_populate_record(NULL::{source}, $1::json))"
        f"{_where(filters)}"
    )
    return _write_result(dml, returning=returning), [json.dumps(values)]


def build_delete(
    schema: str, table: str, filters: tuple[Condition, ...], *, returning: bool
) -> tuple[str, list[object]]:
    """DELETE the filtered rows (all the role may see when there is no filter)."""
    dml = f"DELETE FROM {_table_ref(schema, table)}{_where(filters)}"
    return _write_result(dml, returning=returning), []


def _write_result(dml: str, *, returning: bool) -> str:
    """Wrap a DML statement so it yields one row: (body, affected)."""
    # `RETURNING 1` (as PostgREST does for return=minimal) counts rows without
    # reading any column, so a role with INSERT but no SELECT rights can still write.
    returned = "*" if returning else "1"
    body = f"coalesce(json_agg({_ROWS}.*), '[]')::text" if returning else "'[]'::text"
    return f"WITH {_ROWS} AS ({dml} RETURNING {returned}) SELECT {body} AS body, count(*) AS affected FROM {_ROWS}"


def primary_key_query(schema: str, table: str) -> tuple[str, list[object]]:
    """SQL returning one row: the table's primary-key columns as text[] (maybe empty).

    Upserts without `on_conflict` use these, as PostgREST does.
    """
    sql = (
        "SELECT coalesce(array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum)),"
        " '{}') AS columns FROM pg_index i JOIN pg_attribute a"
        " ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
        " WHERE i.indrelid = to_regclass($1) AND i.indisprimary"
    )
    return sql, [_table_ref(schema, table)]
