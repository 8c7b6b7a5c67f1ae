"""A CREATE TABLE, as AltaTech field declarations — or a refusal that lists what cannot be said.

AltaTech declares a table as JSON fields of five types with two flags, so the SQL is read
with Postgres' own parser (pglast, as the blueprint check does) and mapped:

| SQL | AltaTech |
|---|---|
| text, varchar, char | TEXT |
| smallint, integer, bigint | INT |
| real, double precision | FLOAT |
| timestamp, timestamptz | DATETIME |
| boolean | BOOLEAN |
| NOT NULL | required |
| UNIQUE (one column) | unique |
| PRIMARY KEY (one column) | required and unique |

Everything else has no counterpart and is refused, all problems at once, each naming its
column: other types (uuid, numeric, date, json, arrays, serial, …), DEFAULT and identity
or generated columns (AltaTech stores what it is given, nothing else), foreign keys, CHECK
constraints and keys over several columns. Nothing is dropped silently: a blueprint
built on AltaTech says every value in its rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pglast
from pglast import ast, enums
from pglast.parser import ParseError

from appwright.platforms.altatech import FieldSpec

__all__ = ["AltaTable", "Untranslatable", "translate"]

_TYPES: Final = {
    "text": "TEXT", "varchar": "TEXT", "bpchar": "TEXT",
    "int2": "INT", "int4": "INT", "int8": "INT",
    "float4": "FLOAT", "float8": "FLOAT",
    "timestamp": "DATETIME", "timestamptz": "DATETIME",
    "bool": "BOOLEAN",
}
_SEQUENCES: Final = {"serial", "bigserial", "smallserial", "serial4", "serial8", "serial2"}
_C = enums.ConstrType


class Untranslatable(ValueError):
    """The SQL says something AltaTech cannot; `problems` lists each, naming the column."""

    def __init__(self, table: str, problems: list[str]) -> None:
        super().__init__(f"table {table!r} cannot be declared on AltaTech: " + "; ".join(problems))
        self.table = table
        self.problems = problems


@dataclass(frozen=True, kw_only=True)
class AltaTable:
    """A table as AltaTech declares it."""

    name: str
    fields: tuple[FieldSpec, ...]


def translate(sql: str) -> AltaTable:
    """The AltaTech declaration of one CREATE TABLE, or `Untranslatable`."""
    statement = _create_statement(sql)
    name = str(statement.relation.relname)
    problems: list[str] = []
    unique, primary = _table_keys(statement, problems)
    fields = []
    for element in statement.tableElts or ():
        if isinstance(element, ast.ColumnDef):
            spec = _field(element, problems, unique=element.colname in unique, primary=element.colname in primary)
            if spec is not None:
                fields.append(spec)
    if problems:
        raise Untranslatable(name, problems)
    return AltaTable(name=name, fields=tuple(fields))


def _create_statement(sql: str) -> ast.CreateStmt:
    try:
        statements = pglast.parse_sql(sql)
    except ParseError as error:
        raise Untranslatable("?", [f"the SQL does not parse: {error}"]) from None
    if len(statements) != 1 or not isinstance(statements[0].stmt, ast.CreateStmt):
        raise Untranslatable("?", ["give exactly one CREATE TABLE statement"])
    return statements[0].stmt


def _table_keys(statement: ast.CreateStmt, problems: list[str]) -> tuple[set[str], set[str]]:
    """Columns made unique / primary by table constraints; other table constraints are problems."""
    unique: set[str] = set()
    primary: set[str] = set()
    for element in statement.tableElts or ():
        if not isinstance(element, ast.Constraint):
            continue
        keys = [k.sval for k in element.keys or ()]
        if element.contype in (_C.CONSTR_UNIQUE, _C.CONSTR_PRIMARY) and len(keys) == 1:
            (primary if element.contype == _C.CONSTR_PRIMARY else unique).add(keys[0])
        elif element.contype in (_C.CONSTR_UNIQUE, _C.CONSTR_PRIMARY):
            problems.append(f"a key over several columns ({', '.join(keys)}) has no counterpart: "
                            "AltaTech makes single fields unique")
        else:
            problems.append(_constraint_problem(element.contype, "the table"))
    return unique, primary


def _field(column: ast.ColumnDef, problems: list[str], *, unique: bool, primary: bool) -> FieldSpec | None:
    name = str(column.colname)
    kind, said = _type(column)
    required, found = False, len(problems)
    for constraint in column.constraints or ():
        if constraint.contype == _C.CONSTR_NOTNULL:
            required = True
        elif constraint.contype == _C.CONSTR_UNIQUE:
            unique = True
        elif constraint.contype == _C.CONSTR_PRIMARY:
            primary = True
        elif constraint.contype != _C.CONSTR_NULL:
            problems.append(_constraint_problem(constraint.contype, f"column {name!r}"))
    if kind is None:
        problems.append(f"column {name!r}: type {said} has no AltaTech counterpart "
                        f"(use text, integer, bigint, real, double precision, timestamptz or boolean)")
    if kind is None or len(problems) > found:
        return None
    on = (("required", required or primary), ("unique", unique or primary))
    flags = ", ".join(flag for flag, set_ in on if set_)
    description = f"{name} ({said}{', ' + flags if flags else ''})"
    return FieldSpec(name=name, description=description[:128], type=kind,  # type: ignore[arg-type]
                     required=required or primary, unique=unique or primary)


def _type(column: ast.ColumnDef) -> tuple[str | None, str]:
    names = [n.sval for n in column.typeName.names]
    said = names[-1] + ("[]" if column.typeName.arrayBounds else "")
    if column.typeName.arrayBounds:
        return None, said
    if names[-1] in _SEQUENCES:
        return None, f"{said} (a sequence DEFAULT numbers its rows; AltaTech has no defaults)"
    return _TYPES.get(names[-1]), said


def _constraint_problem(kind: enums.ConstrType, where: str) -> str:
    what = {
        _C.CONSTR_DEFAULT: "DEFAULT has no counterpart: AltaTech stores only the values given (put them in the rows)",
        _C.CONSTR_FOREIGN: "a foreign key (REFERENCES) has no counterpart: AltaTech tables do not refer to each other",
        _C.CONSTR_CHECK: "a CHECK constraint has no counterpart: AltaTech checks only types, required and unique",
        _C.CONSTR_IDENTITY: "an identity column has no counterpart: AltaTech has no sequences",
        _C.CONSTR_GENERATED: "a generated column has no counterpart: AltaTech stores only the values given",
    }.get(kind, f"{kind.name.removeprefix('CONSTR_')} has no counterpart")
    return f"{where}: {what}"
