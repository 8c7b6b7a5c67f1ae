"""Projects: one schema and three database roles each, and their lifecycle.

A project in slot `p0001` owns schema `p0001` through role `p0001_owner` (what the
service key and admin SQL act as: the tables' owner, so RLS does not bind it), and
has `p0001_anon` and `p0001_user` for the anon key and signed-in users, both bound
by RLS. No project role can reach another project's schema or the sandbox's own.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass
from typing import Literal

import asyncpg

from .db import quote_ident
from .errors import ApiError
from .tiers import GRACE, Tier

__all__ = ["Project", "ProjectState", "create_project", "drop_project", "ProjectCache", "role_for"]

ProjectState = Literal["active", "read_only", "archived", "deleted"]


@dataclass(frozen=True, kw_only=True)
class Project:
    """A project row of `sandbox.projects`."""

    id: str
    """prj_…, as the API names it."""
    slot: str
    """The schema name, p0001, p0002, …"""
    name: str
    """What its creator called it."""
    tier: str
    """prototype, hobby or team."""
    wallet: str | None
    """The wallet that paid for it."""
    status: str
    """active, or deleted once deleted."""
    lease_expires_at: dt.datetime
    """When its lease ends; read-only for the grace period after that, then archived."""
    api_calls: int = 0
    """API calls counted this lease (as last written; recent ones may still be in memory)."""

    def state(self, now: dt.datetime | None = None) -> ProjectState:
        """Where the project is in its lifecycle."""
        if self.status == "deleted":
            return "deleted"
        now = now or dt.datetime.now(dt.timezone.utc)
        if now < self.lease_expires_at:
            return "active"
        return "read_only" if now < self.lease_expires_at + GRACE else "archived"

    def check_access(self, *, write: bool) -> None:
        """Refuse access the lifecycle forbids: 403 lease, 404 deleted."""
        state = self.state()
        if state == "deleted":
            raise ApiError(404, "project_not_found", f"project {self.id} has been deleted")
        if state == "archived" or (state == "read_only" and write):
            raise ApiError(
                403, "lease_expired",
                f"the lease of project {self.id} ended at {self.lease_expires_at.isoformat()}"
                + (" and the project is archived" if state == "archived" else "; it is read-only"),
                hint=f"renew it: POST /v1/projects/{self.id}/renew (x402), or create a new project",
            )

    def role(self, kind: Literal["owner", "anon", "user"]) -> str:
        """The database role of one of the project's kinds of caller."""
        return f"{self.slot}_{kind}"


def role_for(project: Project, key_role: str) -> str:
    """The database role a key of `key_role` acts as."""
    kinds = {"service_role": "owner", "anon": "anon", "authenticated": "user"}
    return project.role(kinds[key_role])  # type: ignore[arg-type]


async def create_project(
    conn: asyncpg.Connection, *, name: str, tier: Tier, wallet: str | None,
) -> Project:
    """Make the schema, roles and row of a new project (inside the caller's transaction)."""
    number = await conn.fetchval("SELECT nextval('sandbox.slot_seq')")
    slot = f"p{number:04d}"
    project_id = "prj_" + secrets.token_hex(8)
    await conn.execute(_provision_sql(slot))
    row = await conn.fetchrow(
        "INSERT INTO sandbox.projects (id, slot, name, tier, wallet, lease_expires_at) "
        "VALUES ($1, $2, $3, $4, $5, now() + $6::interval) RETURNING *",
        project_id, slot, name, tier.name, wallet, tier.lease,
    )
    return _project(row)


def _provision_sql(slot: str) -> str:
    owner, anon, user = (quote_ident(f"{slot}_{k}") for k in ("owner", "anon", "user"))
    schema = quote_ident(slot)
    return f"""
        CREATE ROLE {owner} NOLOGIN NOINHERIT;
        CREATE ROLE {anon} NOLOGIN NOINHERIT;
        CREATE ROLE {user} NOLOGIN NOINHERIT;
        CREATE SCHEMA {schema} AUTHORIZATION {owner};
        GRANT USAGE ON SCHEMA {schema} TO {anon}, {user};
        ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema}
            GRANT SELECT ON TABLES TO {anon};
        ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema}
            GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {user};
        ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema}
            GRANT USAGE, SELECT ON SEQUENCES TO {anon}, {user};
    """


async def drop_project(conn: asyncpg.Connection, project: Project) -> None:
    """Remove a project's schema, roles, users, subdomains and storage; keep its row as deleted."""
    roles = ", ".join(quote_ident(project.role(k)) for k in ("owner", "anon", "user"))
    await conn.execute(
        f"DROP SCHEMA IF EXISTS {quote_ident(project.slot)} CASCADE; "
        f"DROP OWNED BY {roles} CASCADE; DROP ROLE IF EXISTS {roles};"
    )
    await conn.execute("UPDATE sandbox.projects SET status = 'deleted' WHERE id = $1", project.id)
    await conn.execute("DELETE FROM sandbox.users WHERE project_id = $1", project.id)
    await conn.execute("DELETE FROM sandbox.refresh_tokens WHERE project_id = $1", project.id)
    await conn.execute("DELETE FROM sandbox.subdomains WHERE project_id = $1", project.id)
    await conn.execute("DELETE FROM sandbox.storage_objects WHERE project_id = $1", project.id)
    # Secret values must not outlive their project; its functions go with them.
    await conn.execute("DELETE FROM sandbox.secrets WHERE project_id = $1", project.id)
    await conn.execute("DELETE FROM sandbox.functions WHERE project_id = $1", project.id)


def _project(row: asyncpg.Record) -> Project:
    return Project(
        id=row["id"], slot=row["slot"], name=row["name"], tier=row["tier"],
        wallet=row["wallet"], status=row["status"], lease_expires_at=row["lease_expires_at"],
        api_calls=row["api_calls"],
    )


class ProjectCache:
    """Project rows by id, kept for a moment: every API call needs one."""

    def __init__(self, *, ttl_s: float = 1.0) -> None:
        self._ttl = ttl_s
        self._rows: dict[str, tuple[float, Project]] = {}
        # Bumped by forget(): a read that began before a change must not cache its old row.
        self._changes: dict[str, int] = {}

    async def get(self, conn: asyncpg.Connection | asyncpg.Pool, project_id: str) -> Project:
        """The project, or a 404 naming it."""
        hit = self._rows.get(project_id)
        if hit and time.monotonic() - hit[0] < self._ttl:
            return hit[1]
        seen = self._changes.get(project_id, 0)
        row = await conn.fetchrow("SELECT * FROM sandbox.projects WHERE id = $1", project_id)
        if row is None:
            raise ApiError(
                404, "project_not_found", f"no project {project_id!r} on this server",
                hint="check the project_id returned by POST /v1/projects",
            )
        project = _project(row)
        if self._changes.get(project_id, 0) == seen:
            self._rows[project_id] = (time.monotonic(), project)
        return project

    def forget(self, project_id: str) -> None:
        """Drop a cached row after the project changed."""
        self._rows.pop(project_id, None)
        self._changes[project_id] = self._changes.get(project_id, 0) + 1
