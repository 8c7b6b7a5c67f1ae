"""A REST read from its raw parts: the table, the query string and three headers.

`GET /rest/v1/:table` is the call a deployed app makes most, so it costs as little
Python as it can. A query string is parsed and turned into SQL once per project and
table: the SQL depends on nothing else (filter values are quoted into it, and the
table is looked up by Postgres when the SQL runs, so a table created a moment ago is
served at once). The read runs in one round trip (`sandbox.rest_read`) on one of the
sandbox's read connections. The fast path and the app's route both answer through
`read`.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from . import postgrest
from .context import Sandbox, caller_of
from .errors import ApiError
from .projects import role_for
from .rest_errors import rest_error

__all__ = ["ReadAnswer", "read"]

_READ = "SELECT body, total, returned FROM sandbox.rest_read($1, $2, $3, $4)"


@dataclass(frozen=True, kw_only=True)
class ReadAnswer:
    """What a read answers."""

    body: str
    """The rows as a JSON array."""
    content_range: str
    """The `Content-Range` header."""


async def read(
    sandbox: Sandbox, *, table: str, query_string: bytes, token: str | None, apikey: str | None, prefer: str | None,
) -> ReadAnswer:
    """Read rows of `table` as the caller's key allows (RLS applies)."""
    principal, project = await caller_of(sandbox, token=token, apikey=apikey, write=False)
    exact = prefer is not None and postgrest.parse_prefer(prefer).count == "exact"
    plan = sandbox.read_plans.plan(project.slot, table, query_string, exact_count=exact)
    role = role_for(project, principal.role)
    try:
        row = await sandbox.reads.fetchrow(_READ, role, project.slot, principal.claims_json, plan.sql, owner=project.id)
    except asyncpg.PostgresError as error:
        raise rest_error(error, table, principal.role) from None
    except (OSError, asyncpg.InterfaceError, asyncpg.InternalClientError) as error:
        # The connection was lost (Postgres restarting, a backend killed): it is replaced.
        raise ApiError(503, "database_unavailable", f"the read could not reach the database: {error}",
                       hint="retry in a moment") from None
    assert row is not None  # rest_read always returns its one row
    body, total, returned = row
    return ReadAnswer(body=body, content_range=postgrest.content_range(plan.offset, returned, total))
