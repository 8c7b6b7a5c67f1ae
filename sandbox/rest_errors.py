"""How a Postgres error on a REST call is told to the caller.

A missing table is a 404, a refused privilege or RLS policy a 403 with a hint for the
key that was used, bad input (data, constraint and syntax classes) a 400 with
Postgres' own message, anything else a 500.
"""

from __future__ import annotations

import asyncpg

from .errors import ApiError

__all__ = ["rest_error"]

_NOT_FOUND = {"42P01", "3F000"}
_BAD_REQUEST_CLASSES = ("22", "23", "42")


def rest_error(error: asyncpg.PostgresError, table: str, role: str) -> ApiError:
    """The answer to a Postgres error raised by a REST call on `table` with a key of `role`."""
    state = error.sqlstate or ""
    if state in _NOT_FOUND:
        return ApiError(404, "table_not_found", f"no table {table!r} in this project",
                        hint="create it with POST /admin/v1/projects/:id/sql; names are case-sensitive")
    if state == "42501":
        return ApiError(403, "permission_denied", f"this key may not do that on {table!r}: {error}",
                        hint=_permission_hint(role))
    if state.startswith(_BAD_REQUEST_CLASSES):
        return ApiError(400, "bad_request", str(error), hint=getattr(error, "hint", None), sqlstate=state)
    return ApiError(500, "database_error", str(error), sqlstate=state)


def _permission_hint(role: str) -> str:
    if role == "anon":
        return "the anon key is read-only unless the table uses the public_read_write template; sign in and send the access token"
    return "row-level security refused it: check the table's RLS template"
