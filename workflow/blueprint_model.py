"""The blueprint model: what a blueprint holds, and every rule a valid one keeps.

`Blueprint` and its parts (`TableSpec`, `RlsSpec`, `SeedSpec`, `SiteFile`; functions are
`blueprint_functions.FunctionSpec`) are frozen pydantic models whose validators check
each field and the whole: names and subdomains, one CREATE TABLE per table whose
columns are those listed, RLS and seed rows against declared tables and columns, site
paths, placeholders and no reference to the service key. A validator's problem in a
sub-field is a `_FieldError`, which `blueprint` turns into a `BlueprintError` naming the
field. `_inlined` reads a site file's `source` into its `data`.

The format itself, and how blueprints are loaded and rendered, are described in
`appwright.workflow.blueprint`, which re-exports the public names of this module.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import Any, Final, Literal

import pglast
from pglast import ast
from pglast.parser import ParseError
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from appwright.steps.sitecheck import service_key_reference

from .blueprint_functions import FunctionSpec, duplicate_names

__all__ = [
    "ANSWER_STEPS", "PLACEHOLDERS", "RESERVED_SUBDOMAINS",
    "Blueprint", "BlueprintError", "RlsSpec", "SeedSpec", "SiteFile", "TableSpec",
]

RESERVED_SUBDOMAINS: Final = frozenset({"api", "www", "admin", "sites", "mail", "ftp", "cdn", "static"})
"""Subdomains no project may claim (the seed's list)."""

ANSWER_STEPS: Final = (
    "plan", "provision", "create_tables", "seed", "rls", "site", "deploy", "subdomain", "feedback",
)
"""The nine steps; an answer's key is a step id, or ``<step id>.<question>``."""

PLACEHOLDERS: Final = ("API_URL", "ANON_KEY", "APP_TITLE")
"""The placeholders a site file may use, as ``{{NAME}}``."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")
_SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_\-]+)\s*\}\}")


class BlueprintError(ValueError):
    """A blueprint that cannot be used; the message names the file and the field."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None) -> None:
        prefix = "".join(f"{part}: " for part in (file, field) if part)
        super().__init__(prefix + message)
        self.file = file
        """The blueprint file, when there is one."""
        self.field = field
        """The field path, e.g. ``tables[1].sql``, when the problem is in one field."""


# --- models ---------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class TableSpec(_Model):
    """One table: its name, the one statement that creates it, and its columns."""

    name: str = Field(description="Table name: a lowercase SQL identifier (letters, digits, _), at most 63 chars.")
    sql: str = Field(
        description="Exactly one CREATE TABLE statement for this table, run in the project's schema "
        "(no schema qualifier)."
    )
    columns: list[str] = Field(
        min_length=1,
        description="The table's column names, exactly those the CREATE TABLE defines (any order); "
        "used to verify the table after creating it and to check seed rows.",
    )

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, value: str) -> str:
        if not _IDENT.match(value):
            raise ValueError(f"{value!r} is not a lowercase SQL identifier (a-z, 0-9, _; not starting with a digit)")
        return value

    @field_validator("columns")
    @classmethod
    def _columns_are_identifiers(cls, value: list[str]) -> list[str]:
        for column in value:
            if not _IDENT.match(column):
                raise ValueError(f"{column!r} is not a lowercase SQL identifier")
        duplicates = sorted({c for c in value if value.count(c) > 1})
        if duplicates:
            raise ValueError(f"listed more than once: {', '.join(duplicates)}")
        return value

    @model_validator(mode="after")
    def _sql_creates_this_table(self) -> TableSpec:
        defined = _created_columns(self.sql, self.name)
        missing = [c for c in self.columns if c not in defined]
        extra = [c for c in defined if c not in self.columns]
        if missing or extra:
            said = []
            if missing:
                said.append(f"not defined by the sql: {', '.join(missing)}")
            if extra:
                said.append(f"defined by the sql but not listed: {', '.join(extra)}")
            raise _FieldError("columns", "; ".join(said))
        return self


class RlsSpec(_Model):
    """The RLS template applied to one table."""

    table: str = Field(description="A table declared in `tables`.")
    template: Literal["user_owns_rows", "public_read", "public_read_write"] = Field(
        description="user_owns_rows: each user sees and writes only rows whose owner_column is their id; "
        "public_read: anyone reads, only signed-in users write; public_read_write: anyone reads and writes."
    )
    owner_column: str | None = Field(
        default=None,
        description="The column holding the owner's user id (uuid); required for user_owns_rows, "
        "not allowed otherwise.",
    )

    @model_validator(mode="after")
    def _owner_column_iff_user_owns_rows(self) -> RlsSpec:
        if self.template == "user_owns_rows" and not self.owner_column:
            raise _FieldError("owner_column", "required by the user_owns_rows template")
        if self.template != "user_owns_rows" and self.owner_column is not None:
            raise _FieldError("owner_column", f"only user_owns_rows takes an owner column, not {self.template}")
        return self


class SeedSpec(_Model):
    """Rows inserted into one table after it is created and protected."""

    table: str = Field(description="A table declared in `tables`.")
    rows: list[dict[str, Any]] = Field(
        description="The rows, as JSON objects of column → value, inserted in order; "
        "columns left out take their defaults."
    )

    @field_validator("rows")
    @classmethod
    def _rows_not_empty(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, row in enumerate(value):
            if not row:
                raise ValueError(f"row {index} is empty: give at least one column")
        return value


class SiteFile(_Model):
    """One file of the static site, inline or read from beside the blueprint."""

    file: str = Field(description="Where the file is served, relative to the site root, e.g. `index.html`.")
    data: str | None = Field(
        default=None,
        description="The content: text for utf-8, base64 for base64. Exactly one of data/source.",
    )
    source: str | None = Field(
        default=None,
        description="A path relative to the blueprint file's folder whose content is the file. "
        "Exactly one of data/source.",
    )
    encoding: Literal["utf-8", "base64"] = Field(
        default="utf-8", description="utf-8 for text files (placeholders are filled in), base64 for binary ones."
    )

    @field_validator("file")
    @classmethod
    def _file_is_relative(cls, value: str) -> str:
        return _relative_path(value)

    @field_validator("source")
    @classmethod
    def _source_is_relative(cls, value: str | None) -> str | None:
        return None if value is None else _relative_path(value)

    @model_validator(mode="after")
    def _one_of_data_source(self) -> SiteFile:
        if (self.data is None) == (self.source is None):
            raise ValueError("give exactly one of data and source" + (", not both" if self.data is not None else ""))
        if self.data is not None and self.encoding == "base64":
            try:
                base64.b64decode(self.data, validate=True)
            except (binascii.Error, ValueError):
                raise _FieldError("data", "not valid base64") from None
        return self


class Blueprint(_Model):
    """An app, declared: what the nine steps build and ship."""

    name: str = Field(
        description="The app's slug: 3-40 chars of lowercase letters, digits and hyphens, "
        "starting and ending with a letter or digit."
    )
    title: str = Field(min_length=1, max_length=80, description="The app's title, shown in the page and its tab.")
    description: str = Field(min_length=1, max_length=1000, description="What the app is for, in a sentence or two.")
    subdomain: str = Field(
        default="",
        description="The subdomain to claim (name.run402.com); defaults to the name. 3-63 chars of lowercase "
        "letters, digits and hyphens, starting and ending with a letter or digit, no '--', not reserved "
        "(api, www, admin, sites, mail, ftp, cdn, static).",
    )
    tables: list[TableSpec] = Field(min_length=1, description="The tables, created in this order.")
    rls: list[RlsSpec] = Field(default_factory=list, description="The RLS template of each protected table.")
    seed: list[SeedSpec] = Field(default_factory=list, description="Rows to insert once the tables exist.")
    site: list[SiteFile] = Field(min_length=1, description="The static site's files; index.html is required.")
    functions: list[FunctionSpec] = Field(
        default_factory=list,
        description="Serverless functions (JavaScript modules), deployed with the site; see blueprint_functions.",
    )
    answers: dict[str, str] = Field(
        default_factory=dict,
        description="Answers to the steps' questions, keyed by step id (or `<step>.<question>`), "
        'e.g. {"plan": "yes", "feedback": "Looks great!"}.',
    )
    feedback: str = Field(min_length=1, description="What the user thought, sent to the platform at the end.")

    _base_dir: Path | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"{value!r} is not a slug: 3-40 lowercase letters, digits and hyphens, "
                "starting and ending with a letter or digit"
            )
        return value

    @field_validator("title")
    @classmethod
    def _title_is_one_line(cls, value: str) -> str:
        if not value.strip() or any(ord(ch) < 32 for ch in value):
            raise ValueError("must be one line of visible text")
        return value

    @field_validator("answers")
    @classmethod
    def _answers_name_steps(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key.split(".", 1)[0] not in ANSWER_STEPS:
                raise ValueError(f"{key!r} is not a step id (one of {', '.join(ANSWER_STEPS)})")
        return value

    @model_validator(mode="before")
    @classmethod
    def _subdomain_defaults_to_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("subdomain") and isinstance(data.get("name"), str):
            return {**data, "subdomain": data["name"]}
        return data

    @model_validator(mode="after")
    def _cross_check(self) -> Blueprint:
        problem = _subdomain_problem(self.subdomain)
        if problem:
            raise _FieldError("subdomain", problem)
        tables: dict[str, TableSpec] = {}
        for index, table in enumerate(self.tables):
            if table.name in tables:
                raise _FieldError(f"tables[{index}].name", f"table {table.name!r} is declared twice")
            tables[table.name] = table
        protected: set[str] = set()
        for index, rule in enumerate(self.rls):
            spec = _declared(tables, rule.table, f"rls[{index}].table")
            if rule.table in protected:
                raise _FieldError(f"rls[{index}].table", f"table {rule.table!r} has two RLS entries")
            protected.add(rule.table)
            if rule.owner_column is not None and rule.owner_column not in spec.columns:
                raise _FieldError(
                    f"rls[{index}].owner_column",
                    f"{rule.owner_column!r} is not a column of {rule.table!r} ({', '.join(spec.columns)})",
                )
        for index, seed in enumerate(self.seed):
            spec = _declared(tables, seed.table, f"seed[{index}].table")
            for row_index, row in enumerate(seed.rows):
                unknown = [key for key in row if key not in spec.columns]
                if unknown:
                    raise _FieldError(
                        f"seed[{index}].rows[{row_index}]",
                        f"{', '.join(map(repr, unknown))} not a column of {seed.table!r} ({', '.join(spec.columns)})",
                    )
        seen: set[str] = set()
        for index, site_file in enumerate(self.site):
            if site_file.file in seen:
                raise _FieldError(f"site[{index}].file", f"{site_file.file!r} is listed twice")
            seen.add(site_file.file)
            if site_file.data is not None and site_file.encoding == "utf-8":
                problem = _placeholder_problem(site_file.data)
                if problem:
                    raise _FieldError(f"site[{index}].data", f"in {site_file.file}: {problem}")
        if "index.html" not in seen:
            raise _FieldError("site", "the site has no index.html at its root")
        duplicate = duplicate_names(self.functions)
        if duplicate:
            raise _FieldError(f"functions[{duplicate[0]}].name", f"function {duplicate[1]!r} is declared twice")
        return self

    def table(self, name: str) -> TableSpec:
        """The declared table called `name` (KeyError if none)."""
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)


class _FieldError(ValueError):
    """A validator's problem in a sub-field: pydantic reports it at the model's path.

    The message starts with ``@<sub-field>: `` so that `BlueprintError` can add the
    sub-field to the path pydantic gives.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"@{field}: {message}")


# --- validation helpers ---------------------------------------------------------------


def _relative_path(value: str) -> str:
    if not value or value != value.strip():
        raise ValueError("must be a non-empty path without surrounding spaces")
    if "\\" in value or "\x00" in value:
        raise ValueError(f"{value!r}: use forward slashes; NUL and backslashes are not allowed")
    if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        raise ValueError(f"{value!r} must be relative, not absolute")
    parts = value.split("/")
    if ".." in parts:
        raise ValueError(f"{value!r}: '..' is not allowed in paths")
    if any(part in ("", ".") for part in parts):
        raise ValueError(f"{value!r}: empty or '.' path segments are not allowed")
    return value


def _subdomain_problem(value: str) -> str | None:
    if not 3 <= len(value) <= 63:
        return f"{value!r} must be 3-63 characters long"
    if not _SUBDOMAIN.match(value):
        return (
            f"{value!r} may hold only lowercase letters, digits and hyphens, "
            "and must start and end with a letter or digit"
        )
    if "--" in value:
        return f"{value!r} must not contain '--'"
    if value in RESERVED_SUBDOMAINS:
        return f"{value!r} is reserved ({', '.join(sorted(RESERVED_SUBDOMAINS))})"
    return None


def _declared(tables: dict[str, TableSpec], name: str, field: str) -> TableSpec:
    if name not in tables:
        declared = ", ".join(tables) or "none"
        raise _FieldError(field, f"table {name!r} is not declared in tables (declared: {declared})")
    return tables[name]


def _created_columns(sql: str, name: str) -> list[str]:
    """The columns `sql` defines, if it is exactly one CREATE TABLE of `name`."""
    try:
        statements = pglast.parse_sql(sql)
    except ParseError as error:
        raise _FieldError("sql", f"does not parse: {error}") from None
    if len(statements) != 1:
        raise _FieldError("sql", f"expected exactly one statement (one CREATE TABLE), found {len(statements)}")
    statement = statements[0].stmt
    if not isinstance(statement, ast.CreateStmt):
        kind = type(statement).__name__
        raise _FieldError("sql", f"expected a CREATE TABLE statement, found {kind}")
    relation = statement.relation
    if relation is None:
        raise _FieldError("sql", "the CREATE TABLE names no table")
    if relation.schemaname:
        raise _FieldError("sql", "name the table without a schema: it is created in the project's schema")
    if relation.relname != name:
        raise _FieldError("sql", f"creates table {relation.relname!r}, not {name!r}")
    if relation.relpersistence == "t":
        raise _FieldError("sql", "a TEMPORARY table does not outlive the request")
    if statement.ofTypename is not None or statement.partbound is not None:
        raise _FieldError("sql", "typed tables and partitions are not supported: list the columns")
    columns: list[str] = []
    for element in statement.tableElts or ():
        if isinstance(element, ast.ColumnDef):
            columns.append(str(element.colname))
        elif isinstance(element, ast.TableLikeClause):
            raise _FieldError("sql", "LIKE is not supported: list the columns")
    if not columns:
        raise _FieldError("sql", "the table defines no columns")
    return columns


def _placeholder_problem(text: str) -> str | None:
    found = service_key_reference(text)
    if found:
        return (
            f"refers to the service key ({found}): the service key bypasses row-level security and must "
            "never be shipped to a browser; use {{ANON_KEY}} and RLS"
        )
    for match in _PLACEHOLDER.finditer(text):
        if match.group(1) not in PLACEHOLDERS:
            known = ", ".join("{{" + p + "}}" for p in PLACEHOLDERS)
            return f"unknown placeholder {match.group(0)} (known: {known})"
    return None


# --- site file sources ----------------------------------------------------------------


def _inlined(index: int, site_file: SiteFile, base_dir: Path, file: str | None) -> dict[str, Any]:
    if site_file.source is None:
        return site_file.model_dump()
    field = f"site[{index}].source"
    path = base_dir / site_file.source
    try:
        content = path.read_bytes()
    except OSError as error:
        raise BlueprintError(f"cannot read {path}: {error.strerror or error}", file=file, field=field) from None
    if site_file.encoding == "base64":
        data = base64.b64encode(content).decode("ascii")
    else:
        try:
            data = content.decode("utf-8")
        except UnicodeDecodeError:
            raise BlueprintError(
                f"{site_file.source} is not UTF-8 text; declare \"encoding\": \"base64\" for binary files",
                file=file, field=field,
            ) from None
    return {"file": site_file.file, "data": data, "source": None, "encoding": site_file.encoding}
