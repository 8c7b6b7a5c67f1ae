"""Results of the data plane: admin SQL, schema, RLS, REST rows and user auth.

Same rules as `run402_models`: frozen, keyword-only, unknown fields ignored; access and
refresh tokens are `Secret`s, left out of every repr.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from .run402_models import Result, Secret, Written

__all__ = [
    "AuthUser",
    "ColumnInfo",
    "PolicyInfo",
    "ProjectSchema",
    "RlsApplied",
    "Rows",
    "RowsWritten",
    "Session",
    "SqlResult",
    "TableInfo",
]


class SqlResult(Written):
    """What admin SQL returned: the rows of the last statement."""

    status: str
    """`ok`."""
    schema_name: str = Field(alias="schema")
    """The project's schema the SQL ran in."""
    rows: list[dict[str, Any]]
    """Rows of the last statement (empty for DDL and plain DML)."""
    row_count: int = Field(alias="rowCount")
    """Rows returned or affected by the last statement."""


class ColumnInfo(Result):
    """One column of a table."""

    name: str
    """The column's name."""
    type: str
    """Its Postgres type, e.g. `integer`, `text`, `timestamp with time zone`."""
    nullable: bool
    """Whether it accepts NULL."""
    default: str | None = None
    """Its default expression, e.g. `now()`."""


class PolicyInfo(Result):
    """One row-level security policy."""

    name: str
    """The policy's name."""
    command: str
    """`SELECT`, `INSERT`, `UPDATE`, `DELETE` or `ALL`."""
    roles: list[str]
    """The roles it applies to."""
    using: str | None = None
    """Its USING expression."""
    with_check: str | None = None
    """Its WITH CHECK expression."""


class TableInfo(Result):
    """One table of a project's schema."""

    name: str
    """The table's name."""
    columns: list[ColumnInfo]
    """Its columns, in order."""
    primary_key: list[str] = Field(default_factory=list)
    """The primary key's columns."""
    rls_enabled: bool = False
    """Whether row-level security is on."""
    policies: list[PolicyInfo] = Field(default_factory=list)
    """Its RLS policies."""

    def column(self, name: str) -> ColumnInfo | None:
        """The column called `name`, if the table has one."""
        return next((c for c in self.columns if c.name == name), None)


class ProjectSchema(Result):
    """A project's tables (`GET /admin/v1/projects/:id/schema`)."""

    schema_name: str = Field(alias="schema")
    """The Postgres schema, e.g. `p0001`."""
    tables: list[TableInfo]
    """Its tables, by name."""

    def table(self, name: str) -> TableInfo | None:
        """The table called `name`, if there is one."""
        return next((t for t in self.tables if t.name == name), None)


class RlsApplied(Written):
    """An RLS template applied to tables."""

    status: str
    """`ok`."""
    template: str
    """The template applied."""
    tables: list[str]
    """The tables it was applied to."""


class Rows(Result):
    """Rows read through REST."""

    rows: list[dict[str, Any]]
    """The rows, as JSON objects."""
    total: int | None = None
    """How many rows match in all (asked for with `count=True`), from `Content-Range`."""


class RowsWritten(Written):
    """The result of a REST insert, update or delete."""

    rows: list[dict[str, Any]] | None = None
    """The rows written, when asked for (`returning=True`); None otherwise."""


class AuthUser(Result):
    """A user of a project."""

    id: str
    """The user's uuid: `auth.uid()` in RLS policies, the `user_id` to store in owned rows."""
    email: str
    """The user's email (lower case)."""
    created_at: datetime
    """When the user signed up."""


class Session(Result):
    """A signed-in user's tokens."""

    access_token: Secret = Field(repr=False)
    """Short-lived JWT: send as apikey (REST) or Authorization: Bearer (auth routes)."""
    refresh_token: Secret = Field(repr=False)
    """Single-use token for `auth.refresh`: keep the new one each time."""
    token_type: str = "bearer"
    """Always `bearer`."""
    expires_in: int
    """Seconds until the access token expires."""
    user: AuthUser
    """Who signed in."""
