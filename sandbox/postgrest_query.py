"""PostgREST query syntax, parsed: the sandbox's `/rest/v1/:table` requests as values.

`parse_read` reads a GET's `select`, filters, `order`, `limit` and `offset` into a
`ReadQuery`; `parse_filters` reads the filters alone (`col=[not.]op.value` and the
logic trees `or=(...)`/`and=(...)`, also `not.or`, `not.and`, nested) into `Filter`
and `FilterGroup` conditions; `parse_columns`, `parse_on_conflict` and `parse_prefer`
read the options of writes and the `Prefer` header. Anything this sandbox does not
support, or cannot read, is a `QueryError` (an HTTP 400 with a hint).

Pure, like the SQL building over it: `appwright.sandbox.postgrest` turns these values
into SQL and re-exports this module's public names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "Condition", "Filter", "FilterGroup", "OrderBy", "Prefer", "QueryError", "ReadQuery",
    "parse_columns", "parse_filters", "parse_on_conflict", "parse_prefer", "parse_read",
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



# --- names ---------------------------------------------------------------------------


def _check_identifier(name: str) -> None:
    if not name:
        raise QueryError("empty column or table name", "name a column, e.g. id=eq.1")
    if "\x00" in name:
        raise QueryError("names cannot contain NUL bytes", "remove the %00 from the name")



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
