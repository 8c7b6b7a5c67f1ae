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
import re

import asyncpg

from .db import as_role
from .errors import ApiError
from .postgres import find_binaries
from .projects import Project

__all__ = ["dump_schema", "replay_schema", "readiness", "rename_slot"]

# pg_dump's session settings: replaced by the fork's own SET LOCALs.
_SETTINGS = re.compile(
    r"^(SET (statement_timeout|lock_timeout|idle_in_transaction_session_timeout|transaction_timeout|"
    r"client_encoding|standard_conforming_strings|check_function_bodies|xmloption|client_min_messages|"
    r"row_security|default_tablespace|default_table_access_method) = .*;|"
    r"SELECT pg_catalog\.set_config\('search_path', '', false\);|\\(un)?restrict .*)$"
)


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
    kept = []
    for line in text.splitlines():
        if line.startswith("--") or _SETTINGS.match(line) or line == f"CREATE SCHEMA {slot};":
            continue
        kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip() + "\n"


def rename_slot(sql: str, old: str, new: str) -> str:
    """`sql` with the schema/role token `old` (p0001, p0001_anon…) renamed to `new`."""
    return re.sub(rf"(?<![A-Za-z0-9_$]){re.escape(old)}(?![A-Za-z0-9$])", new, sql)


async def replay_schema(conn: asyncpg.Connection, project: Project, sql: str, source_slot: str) -> None:
    """Create a snapshot's objects in `project`'s schema, owned by its owner role."""
    text = rename_slot(sql, source_slot, project.slot)
    try:
        async with as_role(conn, role=project.role("owner"), schema=project.slot):
            # Function bodies may name tables created further down the text.
            await conn.execute("SET LOCAL check_function_bodies = false")
            await conn.execute(text)
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
