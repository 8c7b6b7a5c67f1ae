"""Published versions of a project: what a snapshot holds, and how a fork replays it.

A snapshot is the project's schema (tables, sequences, views, functions, policies and
grants, as `pg_dump --schema-only` writes them: never a row), its functions, the files
of its latest site deployment, and the names of its secrets (never their values).
Auth users and storage files are not part of it.

pg_dump qualifies every name with the project's slot (`p0001.items`, role
`p0001_anon`); a fork replays the text with the slot renamed to its own (the token
`p0001` as a whole word, so a table `p00010` or `xp0001` is left alone) as its owner
role, so the objects belong to the fork exactly as if it had created them itself.
"""

from __future__ import annotations

import asyncio
import json
import re

import asyncpg

from .db import as_role
from .errors import ApiError
from .postgres import find_binaries
from .projects import Project

__all__ = ["dump_schema", "replay_schema", "readiness", "rename_slot"]

# pg_dump's session settings (whole statements, as the parser splits them): replaced by the fork's own SET LOCALs.
_SETTINGS = re.compile(
    r"SET (statement_timeout|lock_timeout|idle_in_transaction_session_timeout|transaction_timeout|"
    r"client_encoding|standard_conforming_strings|check_function_bodies|xmloption|client_min_messages|"
    r"row_security|default_tablespace|default_table_access_method) = [^;\n]*|"
    r"SELECT pg_catalog\.set_config\('search_path', '', false\)"
)
# pg_dump 17.6+ brackets its output with psql meta-commands carrying a random key.
_RESTRICT = re.compile(r"^\\restrict (\S+)$", re.MULTILINE)


async def dump_schema(dsn: str, slot: str) -> str:
    """The DDL of one project schema (no data, no owners), as a fork replays it."""
    pg_dump = str(find_binaries() / "pg_dump")
    process = await asyncio.create_subprocess_exec(
        pg_dump, "--schema-only", f"--schema={slot}", "--no-owner", "--no-comments", f"--dbname={dsn}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise ApiError(500, "snapshot_failed", f"pg_dump could not read the schema: {err.decode(errors='replace')[-500:]}")
    return _clean(out.decode(), slot)


def _clean(text: str, slot: str) -> str:
    """The dump's statements, minus its settings and its own CREATE SCHEMA.

    Statements are split by Postgres' own parser, never by lines: a name or a string may
    hold a line that looks like a comment or a SET, and dropping it would put the quoting
    out of step, turning the rest of a name into SQL that the fork would run.
    """
    restrict = _RESTRICT.search(text)
    if restrict:  # only pg_dump's own pair: its key is random, so no name in the dump can carry it
        text = text.replace(restrict.group(0), "", 1).replace(f"\\unrestrict {restrict.group(1)}", "")
    kept = [s for s in _statements(text) if not _SETTINGS.fullmatch(s) and s != f"CREATE SCHEMA {slot}"]
    return "".join(s + ";\n\n" for s in kept).strip() + "\n"


def _statements(sql: str) -> list[str]:
    from pglast.parser import ParseError, split  # Postgres' parser: loaded at first use only

    try:
        return [s.strip() for s in split(sql, with_parser=True) if s.strip()]
    except ParseError as error:
        raise ApiError(500, "snapshot_failed", f"the schema could not be split into statements: {error}") from None


def _changes_role(statement: str) -> bool:
    """SET/RESET of anything (ROLE, SESSION AUTHORIZATION …), DISCARD, or a bare SELECT other than
    pg_dump's setval (set_config('role', …) is one): never part of a snapshot's objects."""
    from pglast.parser import parse_sql_json

    nodes = [n["stmt"] for n in json.loads(parse_sql_json(statement))["stmts"]]
    setval = statement.startswith("SELECT pg_catalog.setval(")
    return any("VariableSetStmt" in n or "DiscardStmt" in n or ("SelectStmt" in n and not setval) for n in nodes)


def rename_slot(sql: str, old: str, new: str) -> str:
    """`sql` with the schema/role token `old` (p0001, p0001_anon…) renamed to `new`."""
    return re.sub(rf"(?<![A-Za-z0-9_$]){re.escape(old)}(?![A-Za-z0-9$])", new, sql)


async def replay_schema(conn: asyncpg.Connection, project: Project, sql: str, source_slot: str) -> None:
    """Create a snapshot's objects in `project`'s schema, owned by its owner role."""
    statements = _statements(rename_slot(sql, source_slot, project.slot))
    owner = project.role("owner")
    refused = next((s for s in statements if _changes_role(s)), None)
    if refused is not None:
        raise ApiError(500, "fork_failed", "the version's schema changes a session setting, which a fork never replays",
                       hint="nothing was created or charged", statement=refused[:200])
    try:
        async with as_role(conn, role=owner, schema=project.slot):
            # Function bodies may name tables created further down the text.
            await conn.execute("SET LOCAL check_function_bodies = false")
            for statement in statements:
                await conn.execute(statement)
            # A tripwire: whatever the text did, it must still be the fork's owner at the end.
            if await conn.fetchval("SELECT current_user") != owner:
                raise ApiError(500, "fork_failed", "the version's schema changed the role it ran as",
                               hint="nothing was created or charged")
    except asyncpg.PostgresError as error:
        raise ApiError(500, "fork_failed", f"the version's schema could not be replayed: {error}",
                       hint="nothing was created or charged", sqlstate=error.sqlstate) from None


async def readiness(conn: asyncpg.Connection | asyncpg.Pool, project_id: str) -> tuple[str, list[str]]:
    """`ready`, or `configuration_required` with the secrets a fork still lacks."""
    row = await conn.fetchrow(
        "SELECT v.secret_names, v.required_secrets FROM sandbox.forks f "
        "JOIN sandbox.app_versions v ON v.id = f.version_id WHERE f.project_id = $1", project_id,
    )
    if row is None:
        return "ready", []
    needed = set(row["secret_names"]) | {entry["key"] for entry in row["required_secrets"]}
    have = {r["key"] for r in await conn.fetch("SELECT key FROM sandbox.secrets WHERE project_id = $1", project_id)}
    missing = sorted(needed - have)
    return ("configuration_required" if missing else "ready"), missing
