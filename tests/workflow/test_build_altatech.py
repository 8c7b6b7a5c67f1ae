"""`appwright build --platform altatech` through the CLI, on the session's sandbox."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from buildkit import Kit, blueprint_seed, same_rows

from appwright.platforms.altatech import AltaTech

SKIPPED = ["rls", "site", "deploy", "subdomain", "feedback"]


def rows_on_altatech(api: str, api_key: str, table_id: str) -> list[dict]:
    async def read() -> list[dict]:
        async with AltaTech(api=api) as alta:
            page = await alta.page_records(api_key, table_id, page=1, page_size=100)
            return [r.values for r in page.records]

    return asyncio.run(read())


def test_build_tasks_on_altatech(tmp_path: Path, api: str) -> None:
    kit = Kit(root=tmp_path, api=api)
    run_id = kit.new_run_id()
    done = kit.build("tasks", "--platform", "altatech", run_id=run_id)
    assert done.returncode == 0, done.output
    assert "your tables are on AltaTech" in done.stdout, done.output
    assert "Skipped “Secure the Data”: AltaTech has no row-level security" in done.stdout
    facts = kit.facts(run_id)
    (table,) = facts["tables_created"]
    assert table["name"] == "tasks" and facts["api_key"].startswith("at_")
    stored = rows_on_altatech(api, facts["api_key"], table["table_id"])
    actual, seed = same_rows(stored, blueprint_seed("tasks")["tasks"])
    assert actual == seed
    assert not kit.wallet_file.exists(), "an AltaTech build makes no wallet and pays nothing"
    log = json.loads(kit.run("log", run_id, "--json").stdout)
    status = {s["step"]: s["status"] for s in log["steps"]}
    assert status == {"plan": "done", "provision": "done", "create_tables": "done", "seed": "done",
                      **{s: "skipped" for s in SKIPPED}}
    skipped = json.loads(kit.run("log", run_id, "--json", "--step", "site").stdout)
    assert [e["kind"] for e in skipped] == ["step_started", "skipped", "user_message"]
    assert skipped[1]["data"] == {"platform": "altatech", "reason": skipped[1]["data"]["reason"]}
    again = kit.resume(run_id)
    assert again.returncode == 0 and "already done" in again.stdout, again.output


def test_defaults_are_refused_on_altatech(tmp_path: Path, api: str) -> None:
    kit = Kit(root=tmp_path, api=api)
    run_id = kit.new_run_id()
    failed = kit.build("todo", "--platform", "altatech", run_id=run_id)
    assert failed.returncode == 1, failed.output
    assert "table 'todos' cannot be declared on AltaTech" in failed.stderr
    assert "column 'done': DEFAULT has no counterpart" in failed.stderr
    assert "column 'id': type uuid has no AltaTech counterpart" in failed.stderr
    assert f"appwright resume {run_id}" in failed.stderr


def test_unknown_platform_and_llm_on_altatech_are_refused(tmp_path: Path, api: str) -> None:
    kit = Kit(root=tmp_path, api=api)
    bad = kit.build("tasks", "--platform", "supabase")
    assert bad.returncode == 2 and "unknown platform 'supabase'" in bad.stderr, bad.output
    llm = kit.run("build", "an idea", "--model", "openai:gpt-4o", "--platform", "altatech", "--api", api)
    assert llm.returncode == 2 and "--platform altatech builds from a blueprint" in llm.stderr, llm.output
    assert not kit.db.exists() or not kit.store().list_runs()
