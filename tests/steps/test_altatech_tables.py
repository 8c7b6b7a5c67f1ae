"""CREATE TABLE → AltaTech fields: what maps, and what is refused with the column named."""

from __future__ import annotations

import pytest

from appwright.steps.altatech_tables import Untranslatable, translate


def test_types_and_flags_map() -> None:
    table = translate("CREATE TABLE t (id text PRIMARY KEY, n bigint NOT NULL, x real, at timestamp, "
                      "ok boolean UNIQUE, code varchar(8), UNIQUE (n))")
    assert table.name == "t"
    assert [(f.name, f.type, f.required, f.unique) for f in table.fields] == [
        ("id", "TEXT", True, True), ("n", "INT", True, True), ("x", "FLOAT", False, False),
        ("at", "DATETIME", False, False), ("ok", "BOOLEAN", False, True), ("code", "TEXT", False, False)]
    assert all(0 < len(f.description) <= 128 for f in table.fields)


@pytest.mark.parametrize(("sql", "said"), [
    ("CREATE TABLE t (done boolean DEFAULT false)", "column 'done': DEFAULT"),
    ("CREATE TABLE t (a int REFERENCES o (id))", "column 'a': a foreign key"),
    ("CREATE TABLE t (a int, FOREIGN KEY (a) REFERENCES o (id))", "the table: a foreign key"),
    ("CREATE TABLE t (a text CHECK (length(a) < 5))", "column 'a': a CHECK"),
    ("CREATE TABLE t (a uuid)", "column 'a': type uuid"),
    ("CREATE TABLE t (a numeric)", "column 'a': type numeric"),
    ("CREATE TABLE t (a date)", "column 'a': type date"),
    ("CREATE TABLE t (a text[])", "column 'a': type text[]"),
    ("CREATE TABLE t (id serial PRIMARY KEY)", "sequence DEFAULT"),
    ("CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY)", "identity column"),
    ("CREATE TABLE t (a int, b int, UNIQUE (a, b))", "several columns (a, b)"),
])
def test_what_cannot_be_said_is_refused(sql: str, said: str) -> None:
    with pytest.raises(Untranslatable, match="cannot be declared on AltaTech") as caught:
        translate(sql)
    assert any(said in p for p in caught.value.problems), caught.value.problems


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(Untranslatable) as caught:
        translate("CREATE TABLE t (id uuid DEFAULT gen_random_uuid(), n int CHECK (n > 0), ok boolean)")
    assert len(caught.value.problems) == 3
