"""Read plans: a query string becomes SQL once, per schema, table and count preference."""

from __future__ import annotations

import pytest

from appwright.sandbox import postgrest
from appwright.sandbox.errors import ApiError
from appwright.sandbox.rest_plans import MAX_KEPT_QUERY, ReadPlans

QUERY = b"select=id,title&done=eq.false&order=id.desc&limit=10&offset=20"


def test_a_plan_is_the_sql_the_builder_writes() -> None:
    plan = ReadPlans().plan("p0001", "items", QUERY, exact_count=False)
    query = postgrest.parse_read([("select", "id,title"), ("done", "eq.false"), ("order", "id.desc"),
                                  ("limit", "10"), ("offset", "20")])
    assert plan.sql == postgrest.build_select("p0001", "items", query, exact_count=False)[0]
    assert plan.offset == 20


def test_a_plan_is_built_once_and_kept_apart_per_schema_table_and_count() -> None:
    plans = ReadPlans()
    first = plans.plan("p0001", "items", QUERY, exact_count=False)
    assert plans.plan("p0001", "items", QUERY, exact_count=False) is first
    others = [plans.plan("p0002", "items", QUERY, exact_count=False),
              plans.plan("p0001", "other", QUERY, exact_count=False),
              plans.plan("p0001", "items", QUERY, exact_count=True)]
    assert all(other is not first for other in others)
    assert '"p0002"."items"' in others[0].sql and '"p0001"."other"' in others[1].sql
    assert "count(*) FROM" in others[2].sql.split("AS body")[1]


def test_percent_encoded_values_are_decoded_before_quoting() -> None:
    plan = ReadPlans().plan("p0001", "items", b"title=eq.it%27s%20done", exact_count=False)
    assert "'it''s done'" in plan.sql


def test_the_oldest_plans_make_room() -> None:
    plans = ReadPlans(size=2)
    first = plans.plan("p0001", "items", b"limit=1", exact_count=False)
    plans.plan("p0001", "items", b"limit=2", exact_count=False)
    plans.plan("p0001", "items", b"limit=3", exact_count=False)
    again = plans.plan("p0001", "items", b"limit=1", exact_count=False)
    assert again is not first and again == first


def test_a_bad_query_is_a_400_every_time_and_never_kept() -> None:
    plans = ReadPlans()
    for _ in range(2):
        with pytest.raises(ApiError) as caught:
            plans.plan("p0001", "items", b"limit=1&limit=2", exact_count=False)
        assert caught.value.status == 400 and caught.value.code == "invalid_query"
        assert "more than once" in caught.value.message


def test_long_query_strings_are_planned_every_time_and_never_kept() -> None:
    plans = ReadPlans()
    long_query = b"id=in.(" + b",".join(str(n).encode() for n in range(MAX_KEPT_QUERY)) + b")"
    assert len(long_query) > MAX_KEPT_QUERY
    first = plans.plan("p0001", "items", long_query, exact_count=False)
    again = plans.plan("p0001", "items", long_query, exact_count=False)
    assert again == first and again is not first
    assert "IN (" in first.sql.upper() or "= ANY" in first.sql
