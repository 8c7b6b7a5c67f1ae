"""Tests of `appwright.sandbox.postgrest`: the parser alone, then its SQL run for real.

The SQL tests run every statement the way the REST route does: in a transaction on a
superuser connection, after `SET LOCAL ROLE` to an unprivileged role and
`SET LOCAL search_path` to the project's schema.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from appwright.sandbox.postgrest import (
    Filter,
    FilterGroup,
    OrderBy,
    Prefer,
    QueryError,
    ReadQuery,
    build_delete,
    build_insert,
    build_select,
    build_update,
    content_range,
    parse_columns,
    parse_filters,
    parse_on_conflict,
    parse_prefer,
    parse_read,
    primary_key_query,
    quote_ident,
    quote_literal,
)

Params = list[tuple[str, str]]


def q(query: str) -> Params:
    """`a=eq.1&b=...` → params, keeping values raw (as a decoded query string)."""
    return [(key, value) for key, _, value in (part.partition("=") for part in query.split("&"))]


def error_of(params: Params) -> QueryError:
    with pytest.raises(QueryError) as caught:
        parse_read(params)
    return caught.value


# --- parser: reads -----------------------------------------------------------------


def test_parse_read_defaults() -> None:
    assert parse_read([]) == ReadQuery(columns=None, filters=(), order=(), limit=None, offset=0)


def test_parse_read_full_query() -> None:
    parsed = parse_read(q("select=id,task&done=eq.false&order=id.desc&limit=10&offset=20"))
    assert parsed == ReadQuery(
        columns=("id", "task"),
        filters=(Filter(column="done", op="eq", value="false", negate=False),),
        order=(OrderBy(column="id", descending=True, nulls=None),),
        limit=10,
        offset=20,
    )


def test_select_star_and_spaces() -> None:
    assert parse_read(q("select=*")).columns is None
    assert parse_read(q("select= id , task ")).columns == ("id", "task")


@pytest.mark.parametrize(
    "select", ["author(*)", "id,author(name)", "label:task", "id::text", "meta->tag", "id,*", "id,,task", ""]
)
def test_select_rejects_what_the_sandbox_does_not_support(select: str) -> None:
    err = error_of([("select", select)])
    assert "select" in err.message
    assert err.hint and "select=" in err.hint


def test_embedded_resource_says_not_supported() -> None:
    assert "not supported" in error_of(q("select=id,author(name)")).message


def test_order_terms() -> None:
    order = parse_read(q("order=a.desc,b.asc.nullslast,c,d.nullsfirst")).order
    assert order == (
        OrderBy(column="a", descending=True, nulls=None),
        OrderBy(column="b", descending=False, nulls="last"),
        OrderBy(column="c", descending=False, nulls=None),
        OrderBy(column="d", descending=False, nulls="first"),
    )


@pytest.mark.parametrize(
    "order", ["a.sideways", "a.nullslast.desc", "a.desc.asc", ".desc", "a.desc.nullsfirst.x", "a,"]
)
def test_order_rejects_malformed_terms(order: str) -> None:
    err = error_of([("order", order)])
    assert "order" in err.message
    assert err.hint and "order=" in err.hint


@pytest.mark.parametrize("key", ["limit", "offset"])
@pytest.mark.parametrize("value", ["-1", "ten", "1.5", "", " 3", "+3", "99999999999999999999"])
def test_limit_and_offset_must_be_non_negative_integers(key: str, value: str) -> None:
    err = error_of([(key, value)])
    assert err.message.startswith(f"{key} must be a non-negative integer")


def test_options_given_twice_are_rejected() -> None:
    assert "more than once" in error_of(q("limit=1&limit=2")).message


def test_same_column_filtered_twice_is_and() -> None:
    filters = parse_filters(q("n=gt.1&n=lt.5"))
    assert [f.op for f in filters if isinstance(f, Filter)] == ["gt", "lt"]


# --- parser: filters ---------------------------------------------------------------


@pytest.mark.parametrize("op", ["eq", "neq", "gt", "gte", "lt", "lte"])
def test_comparison_operators_keep_the_raw_value(op: str) -> None:
    (f,) = parse_filters([("n", f"{op}.a.b,c")])
    assert f == Filter(column="n", op=op, value="a.b,c", negate=False)


def test_not_prefix_negates() -> None:
    (f,) = parse_filters(q("done=not.is.null"))
    assert f == Filter(column="done", op="is", value="null", negate=True)


def test_like_star_becomes_percent() -> None:
    (f,) = parse_filters(q("task=ilike.*eta*"))
    assert f == Filter(column="task", op="ilike", value="%eta%", negate=False)


def test_is_accepts_only_four_keywords() -> None:
    values = [f.value for f in parse_filters(q("a=is.null&b=is.TRUE&c=is.false&d=is.unknown"))]
    assert values == ["null", "true", "false", "unknown"]
    err = error_of(q("a=is.maybe"))
    assert "is.maybe" in err.message and err.hint and "null" in err.hint


def test_in_list_with_quoted_items() -> None:
    (f,) = parse_filters([("task", 'in.(alpha,"Beta, with comma","say \\"hi\\"",)')])
    assert f == Filter(column="task", op="in", value=["alpha", "Beta, with comma", 'say "hi"', ""], negate=False)


def test_empty_in_list() -> None:
    (f,) = parse_filters(q("n=in.()"))
    assert f == Filter(column="n", op="in", value=[], negate=False)


@pytest.mark.parametrize("value", ["in.1,2", "in.(1,2", 'in.("a,b)', "in.(a))"])
def test_in_rejects_malformed_lists(value: str) -> None:
    err = error_of([("n", value)])
    assert "n" in err.message or value in err.message
    assert err.hint and "in.(" in err.hint


def test_unknown_operator_is_named() -> None:
    err = error_of(q("n=equals.3"))
    assert "unknown operator 'equals'" in err.message
    assert err.hint is not None and "column=eq.value" in err.hint


def test_value_without_operator() -> None:
    err = error_of(q("done=false"))
    assert "no operator" in err.message and "done=false" in err.message


def test_option_keys_are_not_filters() -> None:
    params = q("select=id&order=id&limit=1&offset=0&columns=a&on_conflict=id&n=eq.1")
    assert parse_filters(params) == (Filter(column="n", op="eq", value="1", negate=False),)


def test_empty_and_nul_names_and_values_are_rejected() -> None:
    assert "empty" in error_of(q("=eq.1")).message
    assert "NUL" in error_of([("n\x00", "eq.1")]).message
    assert "NUL" in error_of([("n", "eq.1\x00")]).message


def test_logic_trees() -> None:
    (group,) = parse_filters(q('or=(n.lt.2,task.eq."a,b",and(done.is.true,n.not.in.(1,2)),not.or(n.eq.5))'))
    assert group == FilterGroup(
        kind="or",
        negate=False,
        items=(
            Filter(column="n", op="lt", value="2", negate=False),
            Filter(column="task", op="eq", value="a,b", negate=False),
            FilterGroup(
                kind="and",
                negate=False,
                items=(
                    Filter(column="done", op="is", value="true", negate=False),
                    Filter(column="n", op="in", value=["1", "2"], negate=True),
                ),
            ),
            FilterGroup(kind="or", negate=True, items=(Filter(column="n", op="eq", value="5", negate=False),)),
        ),
    )
    (negated,) = parse_filters(q("not.and=(n.gte.1,n.lte.2)"))
    assert isinstance(negated, FilterGroup) and negated.negate and negated.kind == "and"


@pytest.mark.parametrize("value", ["()", "n.eq.1", "(n.eq.1", "(n)", "(n.huh.1)", "(x(n.eq.1))"])
def test_malformed_logic_trees(value: str) -> None:
    err = error_of([("or", value)])
    assert err.message and err.hint


# --- parser: writes, headers, helpers ----------------------------------------------


def test_columns_and_on_conflict_options() -> None:
    params = q("columns=task,done&on_conflict=id")
    assert parse_columns(params) == ("task", "done")
    assert parse_on_conflict(params) == ("id",)
    assert parse_columns([]) is None and parse_on_conflict([]) is None


def test_parse_prefer() -> None:
    assert parse_prefer(None) == Prefer(return_="minimal", count=None, resolution=None)
    assert parse_prefer("return=representation, count=exact") == Prefer(return_="representation", count="exact")
    assert parse_prefer("return=minimal,resolution=merge-duplicates,tx=rollback") == Prefer(
        return_="minimal", resolution="merge-duplicates"
    )
    assert parse_prefer("count=bogus, return=headers-only") == Prefer(return_="headers-only")
    assert parse_prefer("Return=Representation , , count=planned") == Prefer(return_="representation", count="planned")
    assert parse_prefer("return=everything") == Prefer()


def test_content_range() -> None:
    assert content_range(0, 10, None) == "0-9/*"
    assert content_range(0, 10, 123) == "0-9/123"
    assert content_range(20, 5, 25) == "20-24/25"
    assert content_range(0, 0, 0) == "*/0"
    assert content_range(40, 0, 25) == "*/25"
    assert content_range(0, 0, None) == "*/*"


def test_quote_ident_and_literal() -> None:
    assert quote_ident('we"ird') == '"we""ird"'
    assert quote_literal("it's") == "'it''s'"
    assert quote_literal("a\\b'") == "E'a\\\\b'''"
    for bad in ("", "a\x00"):
        with pytest.raises(QueryError):
            quote_ident(bad)
    with pytest.raises(QueryError):
        quote_literal("\x00")


def test_filter_values_are_literals_not_parameters() -> None:
    sql, args = build_select("s", "t", parse_read(q("n=eq.1")), exact_count=False)
    assert args == [] and "\"n\" = '1'" in sql


def test_empty_update_is_rejected() -> None:
    with pytest.raises(QueryError) as caught:
        build_update("s", "t", {}, (), returning=False)
    assert "nothing to update" in caught.value.message


def test_merge_duplicates_needs_a_target() -> None:
    with pytest.raises(QueryError) as caught:
        build_insert("s", "t", [{"a": 1}], returning=False, resolution="merge-duplicates")
    assert "on_conflict" in (caught.value.hint or "")


# --- against Postgres ----------------------------------------------------------------

db_test = pytest.mark.asyncio(loop_scope="session")

SEED = """
INSERT INTO todos (n, task, done, due, meta, note) VALUES
  (1,    'alpha',            false, '2024-01-01T00:00:00Z', '{"tag": "x"}', 'first'),
  (2,    'Beta, with comma', true,  NULL,                   NULL,           NULL),
  (2,    'gamma',            true,  '2024-03-01T00:00:00Z', '{"tag": "y"}', 'it''s'),
  (NULL, 'delta%',           false, NULL,                   '[]',           'back\\slash'),
  (5,    'Epsilon',          false, '2024-05-01T00:00:00Z', '{}',           'x')
"""


class Db:
    """The route's way of running a statement, against one test schema."""

    def __init__(self, conn: asyncpg.Connection, schema: str, role: str) -> None:
        self.conn, self.schema, self.role = conn, schema, role

    async def run(self, sql: str, args: list[object]) -> tuple[Any, int | None]:
        async with self.conn.transaction():
            await self.conn.execute(f"SET LOCAL ROLE {quote_ident(self.role)}")
            await self.conn.execute(f"SET LOCAL search_path TO {quote_ident(self.schema)}")
            row = await self.conn.fetchrow(sql, *args)
        assert row is not None
        return json.loads(row[0]), row[1]

    async def get(self, query: str, *, exact_count: bool = False) -> tuple[list[dict[str, Any]], int | None]:
        parsed = parse_read(q(query) if query else [])
        rows, total = await self.run(*build_select(self.schema, "todos", parsed, exact_count=exact_count))
        assert isinstance(rows, list)
        return rows, total

    async def tasks(self, query: str) -> list[object]:
        return [row["task"] for row in (await self.get(query))[0]]

    async def scalar(self, sql: str) -> object:
        return await self.conn.fetchval(sql.replace("$schema", quote_ident(self.schema)))


@pytest.fixture(scope="session")
async def conn(pg_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(pg_dsn)
    yield connection
    await connection.close()


@pytest.fixture
async def db(conn: asyncpg.Connection) -> AsyncIterator[Db]:
    schema, role = f"pgrst_{secrets.token_hex(4)}", f"pgrst_role_{secrets.token_hex(4)}"
    await conn.execute(f"""
        CREATE SCHEMA {schema};
        CREATE ROLE {role} NOLOGIN;
        GRANT USAGE ON SCHEMA {schema} TO {role};
        SET search_path TO {schema};
        CREATE TABLE todos (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            n int,
            task text COLLATE "C" NOT NULL,
            done boolean NOT NULL DEFAULT false,
            due timestamptz,
            meta jsonb,
            note text DEFAULT 'none'
        );
        GRANT SELECT, INSERT, UPDATE, DELETE ON todos TO {role};
        {SEED};
        RESET search_path;
    """)
    yield Db(conn, schema, role)
    await conn.execute(f"DROP SCHEMA {schema} CASCADE; DROP ROLE {role}")


@db_test
async def test_select_all_rows_and_columns(db: Db) -> None:
    rows, total = await db.get("order=task")
    assert total is None
    assert [r["task"] for r in rows] == ["Beta, with comma", "Epsilon", "alpha", "delta%", "gamma"]
    assert set(rows[0]) == {"id", "n", "task", "done", "due", "meta", "note"}
    alpha = rows[2]
    assert alpha["meta"] == {"tag": "x"} and alpha["due"].startswith("2024-01-01")


@db_test
async def test_select_list_of_columns(db: Db) -> None:
    rows, _ = await db.get("select=task,done&n=eq.1")
    assert rows == [{"task": "alpha", "done": False}]


@db_test
async def test_empty_result_is_an_empty_array(db: Db) -> None:
    rows, total = await db.get("n=gt.100", exact_count=True)
    assert rows == [] and total == 0


@db_test
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("n=eq.2", ["Beta, with comma", "gamma"]),
        ("n=neq.2", ["Epsilon", "alpha"]),  # NULL is neither equal nor unequal
        ("n=gt.2", ["Epsilon"]),
        ("n=gte.2", ["Beta, with comma", "Epsilon", "gamma"]),
        ("n=lt.2", ["alpha"]),
        ("n=lte.2", ["Beta, with comma", "alpha", "gamma"]),
        ("task=like.*ta*", ["Beta, with comma", "delta%"]),
        ("task=ilike.e*", ["Epsilon"]),
        ("task=like.delta%", ["delta%"]),
        ("done=is.true", ["Beta, with comma", "gamma"]),
        ("done=is.false", ["Epsilon", "alpha", "delta%"]),
        ("n=is.null", ["delta%"]),
        ("due=is.null", ["Beta, with comma", "delta%"]),
        ("n=in.(1,5)", ["Epsilon", "alpha"]),
        ('task=in.("Beta, with comma",alpha,nope)', ["Beta, with comma", "alpha"]),
        ("n=in.()", []),
        ("done=eq.true", ["Beta, with comma", "gamma"]),
        ("due=gte.2024-03-01", ["Epsilon", "gamma"]),
        ("due=lt.2024-02-01T00:00:00+00:00", ["alpha"]),
        ("note=eq.it's", ["gamma"]),
        ("note=eq.back\\slash", ["delta%"]),
        ('meta=eq.{"tag": "y"}', ["gamma"]),
        ("n=gte.1&n=lte.2&done=is.false", ["alpha"]),
    ],
)
async def test_operators(db: Db, query: str, expected: list[str]) -> None:
    assert await db.tasks(query + "&order=task") == expected


@db_test
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("n=not.eq.2", ["Epsilon", "alpha"]),
        ("n=not.neq.2", ["Beta, with comma", "gamma"]),
        ("n=not.gt.1", ["alpha"]),
        ("n=not.gte.2", ["alpha"]),
        ("n=not.lt.5", ["Epsilon"]),
        ("n=not.lte.2", ["Epsilon"]),
        ("task=not.like.*a", ["Epsilon", "delta%"]),
        ("task=not.ilike.*A*", ["Epsilon"]),
        ("n=not.is.null", ["Beta, with comma", "Epsilon", "alpha", "gamma"]),
        ("done=not.is.true", ["Epsilon", "alpha", "delta%"]),
        ("n=not.in.(1,2)", ["Epsilon"]),
        ("n=not.in.()", ["Beta, with comma", "Epsilon", "alpha", "delta%", "gamma"]),
    ],
)
async def test_negated_operators(db: Db, query: str, expected: list[str]) -> None:
    assert await db.tasks(query + "&order=task") == expected


@db_test
async def test_is_unknown_on_a_nullable_boolean(db: Db) -> None:
    await db.scalar("ALTER TABLE $schema.todos ALTER done DROP NOT NULL")
    await db.scalar("UPDATE $schema.todos SET done = NULL WHERE task = 'gamma'")
    assert await db.tasks("done=is.unknown") == ["gamma"]


@db_test
async def test_logic_trees_run(db: Db) -> None:
    assert await db.tasks('or=(n.eq.1,task.eq."Beta, with comma")&order=task') == ["Beta, with comma", "alpha"]
    assert await db.tasks("or=(n.is.null,and(done.is.true,n.gt.1))&order=task") == [
        "Beta, with comma",
        "delta%",
        "gamma",
    ]
    assert await db.tasks("not.or=(n.eq.1,n.is.null)&order=task") == ["Beta, with comma", "Epsilon", "gamma"]
    assert await db.tasks("or=(task.like.*ta*,n.in.(5))&done=is.false&order=task") == ["Epsilon", "delta%"]


@db_test
async def test_order_on_several_columns_with_nulls(db: Db) -> None:
    assert await db.tasks("order=n.desc.nullslast,task.desc") == [
        "Epsilon",
        "gamma",
        "Beta, with comma",
        "alpha",
        "delta%",
    ]
    assert await db.tasks("order=n.asc.nullsfirst,task.asc") == [
        "delta%",
        "alpha",
        "Beta, with comma",
        "gamma",
        "Epsilon",
    ]
    assert await db.tasks("order=n.desc,task") == ["delta%", "Epsilon", "Beta, with comma", "gamma", "alpha"]
    assert await db.tasks("order=due.nullsfirst,task&select=task") == [
        "Beta, with comma",
        "delta%",
        "alpha",
        "gamma",
        "Epsilon",
    ]


@db_test
async def test_limit_offset_and_content_range(db: Db) -> None:
    rows, total = await db.get("order=task&limit=2&offset=1", exact_count=True)
    assert [r["task"] for r in rows] == ["Epsilon", "alpha"]
    assert total == 5 and content_range(1, len(rows), total) == "1-2/5"
    rows, total = await db.get("order=task&limit=2&offset=4&done=is.false", exact_count=True)
    assert rows == [] and total == 3 and content_range(4, 0, total) == "*/3"
    rows, total = await db.get("order=task&limit=0")
    assert rows == [] and total is None
    rows, _ = await db.get("order=task&offset=3")
    assert [r["task"] for r in rows] == ["delta%", "gamma"]


@db_test
async def test_bad_values_are_postgres_errors_for_the_route(db: Db) -> None:
    with pytest.raises(asyncpg.InvalidTextRepresentationError):
        await db.get("n=eq.abc")
    with pytest.raises(asyncpg.UndefinedColumnError):
        await db.get("nope=eq.1")
    with pytest.raises(asyncpg.UndefinedColumnError):
        await db.get("select=id,nope")
    with pytest.raises(asyncpg.UndefinedTableError):
        await db.run(*build_select(db.schema, "missing", ReadQuery(), exact_count=True))


# --- writes ------------------------------------------------------------------------


@db_test
async def test_insert_one_object_returning(db: Db) -> None:
    body, affected = await db.run(*build_insert(db.schema, "todos", [{"task": "new", "n": 7}], returning=True))
    assert affected == 1 and isinstance(body, list)
    (row,) = body
    # Keys the body leaves out take the column defaults.
    assert row["task"] == "new" and row["n"] == 7 and row["done"] is False and row["note"] == "none"
    assert len(row["id"]) == 36
    assert await db.scalar("SELECT count(*) FROM $schema.todos") == 6


@db_test
async def test_insert_array_with_types_and_missing_keys(db: Db) -> None:
    rows: list[dict[str, object]] = [
        {"task": "one", "done": True, "meta": {"k": [1, 2]}, "due": "2025-06-01T12:00:00+02:00"},
        {"task": "two", "n": 3, "done": False},
    ]
    body, affected = await db.run(*build_insert(db.schema, "todos", rows, returning=True))
    assert affected == 2 and isinstance(body, list)
    one, two = body
    assert one["meta"] == {"k": [1, 2]} and one["n"] is None and one["due"].startswith("2025-06-01T10:00:00")
    assert two["n"] == 3 and two["meta"] is None
    # A key some rows give and others omit is NULL for the others (PostgREST's default)...
    assert two["due"] is None
    # ...while a column no row mentions keeps its default.
    assert one["note"] == two["note"] == "none"


@db_test
async def test_insert_a_missing_not_null_key_fails_like_postgrest(db: Db) -> None:
    rows: list[dict[str, object]] = [{"task": "a", "done": True}, {"task": "b"}]
    with pytest.raises(asyncpg.NotNullViolationError):
        await db.run(*build_insert(db.schema, "todos", rows, returning=False))


@db_test
async def test_insert_minimal_and_columns_option(db: Db) -> None:
    rows: list[dict[str, object]] = [{"task": "kept", "n": 9, "note": "ignored"}]
    body, affected = await db.run(*build_insert(db.schema, "todos", rows, returning=False, columns=("task", "n")))
    assert body == [] and affected == 1
    assert await db.scalar("SELECT note FROM $schema.todos WHERE task = 'kept'") == "none"


@db_test
async def test_insert_empty_array_and_empty_object(db: Db) -> None:
    assert await db.run(*build_insert(db.schema, "todos", [], returning=True)) == ([], 0)
    with pytest.raises(asyncpg.NotNullViolationError):  # {} means "all defaults": task has none
        await db.run(*build_insert(db.schema, "todos", [{}], returning=True))
    await db.scalar("ALTER TABLE $schema.todos ALTER task SET DEFAULT 'untitled'")
    body, affected = await db.run(*build_insert(db.schema, "todos", [{}], returning=True))
    assert affected == 1 and isinstance(body, list) and body[0]["task"] == "untitled"


@db_test
async def test_insert_unknown_column_is_an_error(db: Db) -> None:
    with pytest.raises(asyncpg.UndefinedColumnError):
        await db.run(*build_insert(db.schema, "todos", [{"task": "x", "nope": 1}], returning=False))


@db_test
async def test_minimal_insert_needs_no_select_right(db: Db) -> None:
    await db.scalar(f"REVOKE SELECT ON $schema.todos FROM {db.role}")
    assert await db.run(*build_insert(db.schema, "todos", [{"task": "blind"}], returning=False)) == ([], 1)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.run(*build_insert(db.schema, "todos", [{"task": "seen"}], returning=True))


@db_test
async def test_upsert_merge_and_ignore(db: Db) -> None:
    pk_sql, pk_args = primary_key_query(db.schema, "todos")
    assert await db.conn.fetchval(pk_sql, *pk_args) == ["id"]
    row_id = await db.scalar("SELECT id::text FROM $schema.todos WHERE task = 'alpha'")
    rows: list[dict[str, object]] = [{"id": row_id, "task": "alpha v2", "n": 1}, {"task": "fresh", "n": 8}]
    # Every row of an upsert needs the key: give the new one an id too.
    rows[1]["id"] = "00000000-0000-0000-0000-000000000001"
    merge = build_insert(db.schema, "todos", rows, returning=True, resolution="merge-duplicates", on_conflict=("id",))
    body, affected = await db.run(*merge)
    assert affected == 2 and sorted(r["task"] for r in body) == ["alpha v2", "fresh"]
    assert await db.scalar("SELECT count(*) FROM $schema.todos") == 6
    rows[0]["task"] = "alpha v3"
    ignore = build_insert(db.schema, "todos", rows, returning=True, resolution="ignore-duplicates")
    assert await db.run(*ignore) == ([], 0)
    assert await db.scalar(f"SELECT task FROM $schema.todos WHERE id = '{row_id}'") == "alpha v2"


@db_test
async def test_update_with_filters(db: Db) -> None:
    filters = parse_filters(q("n=eq.2&done=is.true"))
    sql, args = build_update(db.schema, "todos", {"done": False, "meta": {"moved": True}}, filters, returning=True)
    body, affected = await db.run(sql, args)
    assert affected == 2 and isinstance(body, list)
    assert sorted(r["task"] for r in body) == ["Beta, with comma", "gamma"]
    assert all(r["done"] is False and r["meta"] == {"moved": True} for r in body)
    assert await db.tasks("done=is.true") == []


@db_test
async def test_update_single_column_minimal_and_null(db: Db) -> None:
    sql, args = build_update(db.schema, "todos", {"note": None}, parse_filters(q("task=eq.alpha")), returning=False)
    assert await db.run(sql, args) == ([], 1)
    assert await db.scalar("SELECT note FROM $schema.todos WHERE task = 'alpha'") is None


@db_test
async def test_update_without_filter_touches_every_row(db: Db) -> None:
    body, affected = await db.run(*build_update(db.schema, "todos", {"n": 0}, (), returning=False))
    assert body == [] and affected == 5
    assert await db.scalar("SELECT sum(n) FROM $schema.todos") == 0


@db_test
async def test_update_matching_nothing(db: Db) -> None:
    sql, args = build_update(db.schema, "todos", {"n": 1}, parse_filters(q("n=gt.99")), returning=True)
    assert await db.run(sql, args) == ([], 0)


@db_test
async def test_delete_with_filters(db: Db) -> None:
    body, affected = await db.run(
        *build_delete(db.schema, "todos", parse_filters(q("done=is.false&n=not.is.null")), returning=True)
    )
    assert affected == 2 and sorted(r["task"] for r in body) == ["Epsilon", "alpha"]
    assert await db.run(*build_delete(db.schema, "todos", parse_filters(q("n=eq.2")), returning=False)) == ([], 2)
    assert await db.tasks("") == ["delta%"]


@db_test
async def test_delete_without_filter_is_allowed(db: Db) -> None:
    assert await db.run(*build_delete(db.schema, "todos", (), returning=False)) == ([], 5)


@db_test
async def test_row_level_security_applies(db: Db) -> None:
    await db.scalar("ALTER TABLE $schema.todos ENABLE ROW LEVEL SECURITY")
    await db.scalar(f"CREATE POLICY only_done ON $schema.todos TO {db.role} USING (done)")
    rows, total = await db.get("order=task", exact_count=True)
    assert [r["task"] for r in rows] == ["Beta, with comma", "gamma"] and total == 2
    assert await db.run(*build_delete(db.schema, "todos", (), returning=False)) == ([], 2)
    assert await db.scalar("SELECT count(*) FROM $schema.todos") == 3


# --- injection -----------------------------------------------------------------------

TASKS = ["alpha", "Beta, with comma", "gamma", "delta%", "Epsilon"]
VALUE_ATTACKS = [
    "x'; DROP TABLE todos; --",
    "x' OR '1'='1",
    "x\\'; DROP TABLE todos; --",
    "$1",
    "x'::text); DROP TABLE todos; --",
    "';SELECT pg_sleep(5);--",
]


@db_test
@pytest.mark.parametrize("attack", VALUE_ATTACKS)
async def test_values_cannot_break_out(db: Db, attack: str) -> None:
    # `task` collates "C", so Python's own string ordering predicts `gt`.
    greater = sum(task > attack for task in TASKS)
    for op, expected in (("eq", 0), ("like", 0), ("ilike", 0), ("neq", 5), ("gt", greater), ("lte", 5 - greater)):
        parsed = ReadQuery(filters=(Filter(column="task", op=op, value=attack, negate=False),))
        rows, total = await db.run(*build_select(db.schema, "todos", parsed, exact_count=True))
        assert (op, total, len(rows)) == (op, expected, expected)
    in_query = ReadQuery(filters=(Filter(column="task", op="in", value=[attack, "alpha"], negate=False),))
    rows, _ = await db.run(*build_select(db.schema, "todos", in_query, exact_count=False))
    assert [r["task"] for r in rows] == ["alpha"]
    # Stored and read back as plain data.
    await db.run(*build_insert(db.schema, "todos", [{"task": attack}], returning=False))
    assert await db.tasks(f"task=eq.{attack}") == [attack]
    assert await db.scalar("SELECT count(*) FROM $schema.todos") == 6


IDENT_ATTACKS = [
    'task" = task; DROP TABLE todos; --',
    'n"; DROP TABLE todos; --',
    "n'; DROP TABLE todos; --",
    'todos"."task',
]


@db_test
@pytest.mark.parametrize("attack", IDENT_ATTACKS)
async def test_identifiers_cannot_break_out(db: Db, attack: str) -> None:
    attempts = [
        build_select(
            db.schema,
            "todos",
            ReadQuery(filters=(Filter(column=attack, op="eq", value="1", negate=False),)),
            exact_count=True,
        ),
        build_select(db.schema, "todos", ReadQuery(columns=(attack,)), exact_count=False),
        build_select(
            db.schema,
            "todos",
            ReadQuery(order=(OrderBy(column=attack, descending=False, nulls=None),)),
            exact_count=False,
        ),
        build_select(db.schema, attack, ReadQuery(), exact_count=False),
        build_insert(db.schema, "todos", [{attack: "x"}], returning=False),
        build_update(db.schema, "todos", {attack: "x"}, (), returning=False),
        build_delete(db.schema, attack, (), returning=False),
        build_delete(attack, "todos", (), returning=False),
    ]
    for sql, args in attempts:
        with pytest.raises((asyncpg.UndefinedColumnError, asyncpg.UndefinedTableError)):
            await db.run(sql, args)
    assert await db.scalar("SELECT count(*) FROM $schema.todos") == 5


@db_test
async def test_a_real_column_with_quotes_in_its_name_works(db: Db) -> None:
    await db.scalar('ALTER TABLE $schema.todos ADD COLUMN "we""ird col" text DEFAULT \'q\'')
    rows, _ = await db.get('select=task,we"ird col&task=eq.alpha')
    assert rows == [{"task": "alpha", 'we"ird col': "q"}]
    body, _ = await db.run(*build_insert(db.schema, "todos", [{"task": "z", 'we"ird col': "v"}], returning=True))
    assert body[0]['we"ird col'] == "v"


@db_test
async def test_a_column_named_like_the_row_alias_is_harmless(db: Db) -> None:
    await db.scalar("ALTER TABLE $schema.todos ADD COLUMN _appwright_rows int DEFAULT 7")
    rows, _ = await db.get("select=task,_appwright_rows&n=eq.1")
    assert rows == [{"task": "alpha", "_appwright_rows": 7}]
    body, affected = await db.run(*build_delete(db.schema, "todos", parse_filters(q("n=eq.1")), returning=True))
    assert affected == 1 and body[0]["_appwright_rows"] == 7 and body[0]["task"] == "alpha"
