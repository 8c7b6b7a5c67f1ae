"""A fork replays a published schema as the fork's own role: nothing in the snapshot's text may break out of it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from core import create, dbval, rich_account, service, sql_ok
from paying import payer

pytestmark = pytest.mark.asyncio(loop_scope="session")

# A name with a line starting `--` (dropped as a comment by a line-based filter, quote and all), and a
# name that is SQL once the quoting is out of step. pg_dump writes both correctly quoted.
NAMES = ["!\n--", "(z int);RESET ROLE;CREATE SCHEMA fork_pwned;CREATE TABLE t(--"]
TRICK = "".join(f'CREATE TABLE "{name}" (x int);' for name in NAMES)


async def test_fork_replays_names_exactly_and_never_as_superuser(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn)
    project = await create(api, account, "tricky-names")
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        await sql_ok(http, project, TRICK)
        published = await http.post(f"/admin/v1/projects/{project['project_id']}/publish", headers=service(project),
                                    json={})
    assert published.status_code == 201, published.text
    async with payer(api, account) as http:
        fork = await http.post("/v1/fork/prototype", json={"version_id": published.json()["version_id"], "name": "f"})
    assert await dbval(pg_dsn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'fork_pwned'") == 0
    assert fork.status_code == 201, fork.text
    forked: dict[str, Any] = fork.json()
    names = await dbval(pg_dsn, "SELECT array_agg(relname ORDER BY relname) FROM pg_class c JOIN pg_namespace n "
                                "ON n.oid = c.relnamespace WHERE n.nspname = $1 AND relkind = 'r'", forked["schema_slot"])
    assert names == NAMES


async def test_a_stored_snapshot_that_changes_role_is_never_replayed(api: str, pg_dsn: str) -> None:
    account = await rich_account(pg_dsn)
    project = await create(api, account, "role-change")
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        await sql_ok(http, project, "CREATE TABLE t (x int)")
        published = await http.post(f"/admin/v1/projects/{project['project_id']}/publish", headers=service(project),
                                    json={})
    version_id = published.json()["version_id"]
    for evil in ("RESET ROLE; CREATE SCHEMA fork_pwned2;", "SELECT set_config('role', 'none', true);"):
        await dbval(pg_dsn, "UPDATE sandbox.app_versions SET schema_sql = schema_sql || $2 WHERE id = $1 "
                            "RETURNING id", version_id, evil)
        async with payer(api, account) as http:
            fork = await http.post("/v1/fork/prototype", json={"version_id": version_id, "name": "f"})
        assert fork.status_code == 500 and fork.json()["error"] == "fork_failed", fork.text
        assert await dbval(pg_dsn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'fork_pwned2'") == 0
        await dbval(pg_dsn, "UPDATE sandbox.app_versions SET schema_sql = replace(schema_sql, $2, '') WHERE id = $1 "
                            "RETURNING id", version_id, evil)
