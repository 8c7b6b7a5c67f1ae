"""`appwright projects list|usage|sql|rest|renew|delete` as a user meets them, on the session sandbox.

A real todo build makes the project (its id and keys land in the run's memory); every
verb is then a real `appwright` process with that home and wallet.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace

import pytest
from buildkit import Kit, Proc, sandbox_sql


@dataclass(frozen=True)
class Built:
    kit: Kit
    run_id: str
    project_id: str


@pytest.fixture(scope="module")
def built(api: str, tmp_path_factory: pytest.TempPathFactory) -> Built:
    kit = Kit(root=tmp_path_factory.mktemp("projects"), api=api)
    run_id = kit.new_run_id()
    done = kit.build("todo", run_id=run_id)
    assert done.returncode == 0, done.output
    return Built(kit, run_id, kit.facts(run_id)["project_id"])


def refused(proc: Proc, code: int) -> str:
    assert proc.returncode == code, proc.output
    assert "Traceback" not in proc.stdout + proc.stderr, proc.output
    assert proc.stderr.startswith("error: "), proc.output
    return proc.stderr


def test_list_shows_the_runs_project(built: Built) -> None:
    listed = built.kit.run("projects", "list")
    assert listed.returncode == 0, listed.output
    assert built.project_id in listed.stdout and built.run_id in listed.stdout and built.kit.api in listed.stdout
    as_json = json.loads(built.kit.run("projects", "list", "--json").stdout)
    [mine] = [p for p in as_json if p["project_id"] == built.project_id]
    assert mine["run_id"] == built.run_id and mine["api"] == built.kit.api and mine["deleted"] is False
    assert "service_key" not in json.dumps(as_json) and "eyJ" not in listed.stdout  # keys never printed


def test_an_empty_home_lists_nothing(api: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    empty = Kit(root=tmp_path_factory.mktemp("empty"), api=api).run("projects", "list")
    assert empty.returncode == 0 and "No projects yet" in empty.stdout


def test_usage_sql_and_rest(built: Built) -> None:
    kit, pid = built.kit, built.project_id
    usage = kit.run("projects", "usage", pid)
    assert usage.returncode == 0, usage.output
    assert "state:    active" in usage.stdout and "of 500,000 calls" in usage.stdout and "bytes" in usage.stdout
    data = json.loads(kit.run("projects", "usage", pid, "--json").stdout)
    assert data["project_id"] == pid and data["tier"] == "prototype" and data["storage_limit_bytes"] > 0

    counted = kit.run("projects", "sql", pid, "SELECT count(*) AS n FROM todos")
    assert counted.returncode == 0, counted.output
    total = json.loads(counted.stdout)["rows"][0]["n"]
    assert total >= 2

    rows = kit.run("projects", "rest", pid, "todos", "order=id.desc&limit=2")
    assert rows.returncode == 0, rows.output
    got = json.loads(rows.stdout)
    assert len(got) == 2 and got[0]["id"] > got[1]["id"]
    assert len(json.loads(kit.run("projects", "rest", pid, "todos").stdout)) == total


@pytest.mark.parametrize(("args", "says"), [
    (["usage", "prj_nope"], "no project 'prj_nope'"),
    (["sql", "prj_nope", "SELECT 1"], "appwright projects list"),
    (["sql", "{pid}", "   "], "the SQL is empty"),
    (["sql", "{pid}", "CREATE EXTENSION pgcrypto"], "not allowed"),
    (["sql", "{pid}", "SELEC 1"], "syntax"),
    (["rest", "{pid}", "todos", "justaword"], "not name=value pairs"),
    (["delete", "{pid}"], "pass --yes"),
])
def test_bad_input_exits_2_with_a_clear_message(built: Built, args: list[str], says: str) -> None:
    proc = built.kit.run("projects", *(a.replace("{pid}", built.project_id) for a in args))
    assert says in refused(proc, 2)


def test_renew_restores_an_archived_project(built: Built, pg_dsn: str) -> None:
    kit, pid = built.kit, built.project_id
    sandbox_sql(pg_dsn, "UPDATE sandbox.projects SET lease_expires_at = now() - interval '8 days' WHERE id = $1", pid)
    sandbox_sql(pg_dsn, "UPDATE sandbox.accounts SET balance_micros = balance_micros + 100000 WHERE wallet = $1",
                kit.wallet()["address"].lower())
    time.sleep(1.1)  # past the sandbox's project cache
    archived = kit.run("projects", "usage", pid)
    assert archived.returncode == 0 and "state:    archived" in archived.stdout and "projects renew" in archived.stdout
    assert "lease_expired" in refused(kit.run("projects", "sql", pid, "SELECT 1"), 1)

    no_wallet = replace(kit, wallet_path=kit.root / "no-wallet.json")
    assert "appwright wallet create" in refused(no_wallet.run("projects", "renew", pid), 2)

    before = kit.charges()
    renewed = kit.run("projects", "renew", pid)
    assert renewed.returncode == 0, renewed.output
    assert f"Renewed {pid} (prototype)" in renewed.stdout and "$0.10" in renewed.stdout
    assert sorted(kit.charges()) == sorted([*before, 100_000])
    assert "state:    active" in kit.run("projects", "usage", pid).stdout
    assert kit.run("projects", "sql", pid, "SELECT 1 AS one").returncode == 0
    listed = json.loads(kit.run("projects", "list", "--json").stdout)
    assert [p["lease_expires_at"] for p in listed if p["project_id"] == pid] == [kit.facts(built.run_id)["lease_expires_at"]]

    broke = kit.run("projects", "renew", pid)  # the wallet has less than $0.10 left
    assert "appwright wallet fund" in refused(broke, 1)


def test_delete_is_last(built: Built) -> None:
    kit, pid = built.kit, built.project_id
    deleted = kit.run("projects", "delete", pid, "--yes")
    assert deleted.returncode == 0 and f"Deleted {pid}" in deleted.stdout, deleted.output
    assert "deleted" in refused(kit.run("projects", "usage", pid), 1)
    listed = json.loads(kit.run("projects", "list", "--json").stdout)
    assert [p["deleted"] for p in listed if p["project_id"] == pid] == [True]
