"""PostgREST query syntax → SQL, for the sandbox's `/rest/v1/:table` routes.

The module is pure: it parses query parameters, bodies and the `Prefer` header, and
builds SQL text plus asyncpg arguments. The route runs that SQL inside a transaction
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
import re
from dataclasses import dataclass
from typing import TypeAlias

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

FILTER_HINT = (
    "filter values look like column=eq.value; operators: eq neq gt gte lt lte like ilike is in; prefix not. to negate"
)
_COMPARISONS = {
    "eq": "=",
    "neq": "<>",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "like": "LIKE",
    "ilike": "ILIKE",
}
_OPERATORS = frozenset({*_COMPARISONS, "is", "in"})
_IS_VALUES = {"null": "NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}
_LOGIC_KEYS = {"or": ("or", False), "and": ("and", False), "not.or": ("or", True), "not.and": ("and", True)}
# Keys that are never filters: read options, insert options (ignored by reads).
_RESERVED = frozenset({"select", "order", "limit", "offset", "columns", "on_conflict"})
_DIRECTIONS = {"asc": False, "desc": True}
_NULLS = {"nullsfirst": "first", "nullslast": "last"}
_DIGITS = re.compile(r"[0-9]+")
_MAX_BIGINT = 2**63 - 1
# Alias of the row source; `alias.*` in json_agg can never clash with a column name.
_ROWS = "_appwright_rows"


class QueryError(Exception):
    """A request the REST layer cannot turn into SQL: answer HTTP 400.

    `message` says what was wrong, `hint` how to fix it.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True, kw_only=True)
class Filter:
    """One `column=[not.]op.value` condition.

    `value` is a list for `in`, one of `null true false unknown` for `is` (None also
    means `null`), and the raw string otherwise (`*` already turned into `%` for
    `like`/`ilike`).
    """

    column: str
    op: str
    value: str | list[str] | None
    negate: bool = False


@dataclass(frozen=True, kw_only=True)
class FilterGroup:
    """An `or=(...)`/`and=(...)` logic tree; `kind` is "or" or "and"."""

    kind: str
    items: tuple[Condition, ...]
    negate: bool = False


Condition: TypeAlias = "Filter | FilterGroup"


@dataclass(frozen=True, kw_only=True)
class OrderBy:
    """One `order=` term; `nulls` is "first", "last" or None (Postgres' default)."""

    column: str
    descending: bool = False
    nulls: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReadQuery:
    """A parsed GET: `columns` None means `select=*`."""

    columns: tuple[str, ...] | None = None
    filters: tuple[Condition, ...] = ()
    order: tuple[OrderBy, ...] = ()
    limit: int | None = None
    offset: int = 0


@dataclass(frozen=True, kw_only=True)
class Prefer:
    """The parts of the `Prefer` header the sandbox honours.

    `return_` is "minimal" (the default), "representation" or "headers-only";
    `count` is "exact", "planned" or "estimated" (the sandbox may count exactly for
    all three); `resolution` is "merge-duplicates" or "ignore-duplicates".
    """

    return_: str = "minimal"
    count: str | None = None
    resolution: str | None = None


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


def _check_identifier(name: str) -> None:
    if not name:
        raise QueryError("empty column or table name", "name a column, e.g. id=eq.1")
    if "\x00" in name:
        raise QueryError("names cannot contain NUL bytes", "remove the %00 from the name")


def _table_ref(schema: str, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}"


# --- parsing: reads ------------------------------------------------------------------


def parse_read(params: list[tuple[str, str]]) -> ReadQuery:
    """Parse a GET's query parameters (`select`, filters, `order`, `limit`, `offset`)."""
    options = _single_options(params, ("select", "order", "limit", "offset"))
    limit = options.get("limit")
    return ReadQuery(
        columns=_parse_select(options.get("select", "*")),
        filters=parse_filters(params),
        order=_parse_order(options.get("order", "")),
        limit=None if limit is None else _parse_count("limit", limit),
        offset=_parse_count("offset", options.get("offset", "0")),
    )


def _single_options(params: list[tuple[str, str]], keys: tuple[str, ...]) -> dict[str, str]:
    """The given option keys, each allowed once (a second `limit` is a mistake)."""
    found: dict[str, str] = {}
    for key, value in params:
        if key in keys:
            if key in found:
                raise QueryError(f"'{key}' given more than once", f"pass a single {key}=")
            found[key] = value
    return found


def _parse_select(text: str) -> tuple[str, ...] | None:
    text = text.strip()
    if text == "*":
        return None
    columns = tuple(item.strip() for item in text.split(","))
    for column in columns:
        _check_select_item(column)
    return columns


def _check_select_item(column: str) -> None:
    hint = "select=* or a comma-separated list of plain columns, e.g. select=id,task"
    if column == "*":
        raise QueryError("'*' cannot be mixed with other columns in select", hint)
    if any(mark in column for mark in ("(", ")", ":", "->")):
        raise QueryError(
            f"select item '{column}' is not supported by the sandbox "
            "(embedded resources, aliases, casts and JSON paths are not)",
            hint,
        )
    if not column:
        raise QueryError("empty column name in select", hint)
    _check_identifier(column)


def _parse_order(text: str) -> tuple[OrderBy, ...]:
    if not text.strip():
        return ()
    return tuple(_parse_order_term(term.strip()) for term in text.split(","))


def _parse_order_term(term: str) -> OrderBy:
    column, *modifiers = term.split(".")
    hint = "order looks like order=col.desc.nullslast,other.asc"
    if not column or len(modifiers) > 2:
        raise QueryError(f"cannot read order term '{term}'", hint)
    descending, nulls = False, None
    for index, modifier in enumerate(modifiers):
        if modifier in _DIRECTIONS and index == 0:
            descending = _DIRECTIONS[modifier]
        elif modifier in _NULLS and (index == len(modifiers) - 1):
            nulls = _NULLS[modifier]
        else:
            raise QueryError(f"unknown order modifier '{modifier}' in '{term}'", hint)
    _check_identifier(column)
    return OrderBy(column=column, descending=descending, nulls=nulls)


def _parse_count(name: str, text: str) -> int:
    if not _DIGITS.fullmatch(text) or int(text) > _MAX_BIGINT:
        raise QueryError(f"{name} must be a non-negative integer, got '{text}'", f"e.g. {name}=10")
    return int(text)


# --- parsing: filters ----------------------------------------------------------------


def parse_filters(params: list[tuple[str, str]]) -> tuple[Condition, ...]:
    """Every parameter that is not an option is a filter; they are ANDed together."""
    conditions: list[Condition] = []
    for key, value in params:
        if key in _RESERVED:
            continue
        if key in _LOGIC_KEYS:
            conditions.append(_parse_logic_param(key, value))
        else:
            conditions.append(_parse_condition(key, value, quoted_values=False))
    return tuple(conditions)


def _parse_condition(column: str, text: str, *, quoted_values: bool) -> Filter:
    """`[not.]op.value` for `column`; inside logic trees values may be "quoted"."""
    _check_identifier(column)
    negate = text.startswith("not.")
    body = text[4:] if negate else text
    op, dot, raw = body.partition(".")
    if not dot:
        raise QueryError(f"cannot read filter '{column}={text}': no operator", FILTER_HINT)
    if op not in _OPERATORS:
        raise QueryError(f"unknown operator '{op}' in '{column}={text}'", FILTER_HINT)
    if "\x00" in raw:
        raise QueryError(f"the value of '{column}' contains a NUL byte", "remove the %00 from the value")
    if quoted_values and op not in ("in", "is"):
        raw = _unquote(raw)
    return Filter(column=column, op=op, value=_parse_value(op, raw, column), negate=negate)


def _parse_value(op: str, raw: str, column: str) -> str | list[str]:
    if op == "in":
        return _parse_in_list(raw, column)
    if op == "is":
        if raw.lower() not in _IS_VALUES:
            hint = "is accepts null, true, false or unknown, e.g. done=is.null"
            raise QueryError(f"'{column}=is.{raw}' is not allowed", hint)
        return raw.lower()
    if op in ("like", "ilike"):
        return raw.replace("*", "%")  # PostgREST's URL-friendly wildcard
    return raw


def _parse_in_list(raw: str, column: str) -> list[str]:
    hint = 'in takes a parenthesised list: id=in.(1,2,3) or name=in.("a,b",c)'
    if not (raw.startswith("(") and raw.endswith(")")):
        raise QueryError(f"cannot read list '{raw}' for column '{column}'", hint)
    inner = raw[1:-1]
    if not inner:
        return []
    return [_unquote(item) for item in _split_top_level(inner, hint)]


def _unquote(item: str) -> str:
    """`"a,b"` → `a,b`, with `\\"` and `\\\\` escapes; an unquoted item is kept as is."""
    if len(item) >= 2 and item.startswith('"') and item.endswith('"'):
        return re.sub(r"\\(.)", r"\1", item[1:-1])
    return item


def _split_top_level(text: str, hint: str) -> list[str]:
    """Split on commas that are outside double quotes and parentheses."""
    parts: list[str] = []
    depth, quoted, escaped, start = 0, False, False, 0
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif quoted:
            escaped, quoted = char == "\\", char != '"'
        elif char == '"':
            quoted = True
        elif char in "()":
            depth += 1 if char == "(" else -1
            if depth < 0:
                raise QueryError(f"unbalanced parentheses in '{text}'", hint)
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if depth or quoted:
        raise QueryError(f"unbalanced parentheses or quotes in '{text}'", hint)
    return [*parts, text[start:]]


# --- parsing: logic trees (or=, and=) ------------------------------------------------

_LOGIC_HINT = "logic trees look like or=(age.lt.18,age.gt.65,and(done.is.true,id.gt.3))"


def _parse_logic_param(key: str, value: str) -> FilterGroup:
    kind, negate = _LOGIC_KEYS[key]
    return _parse_group(kind, negate, value)


def _parse_group(kind: str, negate: bool, text: str) -> FilterGroup:
    if not (text.startswith("(") and text.endswith(")")) or len(text) == 2:
        raise QueryError(f"cannot read {kind}={text}: expected a non-empty (...) list", _LOGIC_HINT)
    items = tuple(_parse_logic_item(item) for item in _split_top_level(text[1:-1], _LOGIC_HINT))
    return FilterGroup(kind=kind, items=items, negate=negate)


def _parse_logic_item(item: str) -> Condition:
    for prefix, (kind, negate) in _LOGIC_KEYS.items():
        if item.startswith(prefix + "("):
            return _parse_group(kind, negate, item[len(prefix) :])
    column, dot, rest = item.partition(".")
    if not dot or "(" in column or ")" in column:
        raise QueryError(f"cannot read condition '{item}' in a logic tree", _LOGIC_HINT)
    return _parse_condition(column, rest, quoted_values=True)


# --- parsing: writes and headers -----------------------------------------------------


def parse_columns(params: list[tuple[str, str]]) -> tuple[str, ...] | None:
    """`columns=a,b` on a POST: insert only these keys of the body."""
    return _column_list_option(params, "columns")


def parse_on_conflict(params: list[tuple[str, str]]) -> tuple[str, ...] | None:
    """`on_conflict=a,b` on an upsert: the unique columns that decide a duplicate."""
    return _column_list_option(params, "on_conflict")


def _column_list_option(params: list[tuple[str, str]], key: str) -> tuple[str, ...] | None:
    text = _single_options(params, (key,)).get(key)
    if text is None:
        return None
    columns = tuple(column.strip() for column in text.split(","))
    for column in columns:
        _check_identifier(column)
    return columns


def parse_prefer(header: str | None) -> Prefer:
    """Read `Prefer` (comma-separated `key=value`); unknown preferences are ignored."""
    found: dict[str, str] = {}
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        found[key.strip().lower()] = value.strip().lower()
    count = found.get("count")
    resolution = found.get("resolution")
    returned = found.get("return")
    return Prefer(
        return_=returned if returned in ("representation", "headers-only") else "minimal",
        count=count if count in ("exact", "planned", "estimated") else None,
        resolution=resolution if resolution in ("merge-duplicates", "ignore-duplicates") else None,
    )


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
