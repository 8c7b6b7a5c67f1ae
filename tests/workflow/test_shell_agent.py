"""An agent with only a shell builds an app through `appwright start | step | act | submit`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from appwright.memory import MemoryStore

from buildkit import fetch_site

SCRIPT = Path(__file__).with_name("shell_agent.sh")
APPWRIGHT = str(Path(sys.executable).with_name("appwright"))


def _env(tmp_path: Path, api: str) -> dict[str, str]:
    return {**os.environ, "APPWRIGHT_HOME": str(tmp_path / "home"), "APPWRIGHT_WALLET": str(tmp_path / "wallet.json"),
            "APPWRIGHT_API": api, "APPWRIGHT": APPWRIGHT}


@pytest.mark.timeout(900)  # some thirty processes, each loading the engine
def test_a_shell_script_builds_the_todo_app_step_by_step(tmp_path: Path, api: str) -> None:
    done = subprocess.run(["bash", str(SCRIPT), "shell-todo", "todo"], env=_env(tmp_path, api),
                          capture_output=True, text=True, timeout=840)

    assert done.returncode == 0, done.stderr
    app_url = done.stdout.strip().splitlines()[-1]
    assert app_url.startswith("http://shared-todo-") and fetch_site(app_url).status_code == 200
    store = MemoryStore(tmp_path / "home" / "appwright.db")
    assert store.get_run("shell-todo").status == "done"
    assert sorted(p.amount_micros for p in store.payments("shell-todo")) == [10_000, 50_000, 100_000]
    finished = [s.step_id for s in store.step_summaries("shell-todo") if s.status == "done"]
    assert finished == ["plan", "provision", "create_tables", "seed", "rls", "site", "deploy", "subdomain", "feedback"]


def _aw(tmp_path: Path, api: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([APPWRIGHT, *args], env=_env(tmp_path, api), capture_output=True, text=True,
                          input=stdin, timeout=120)


@pytest.fixture
def started(tmp_path: Path, api: str) -> str:
    begun = _aw(tmp_path, api, "start", "--blueprint", "todo", "--run-id", "verbs")
    assert begun.returncode == 0, begun.stderr
    assert "step 1/9: Plan the App" in begun.stdout and "ask_user" in begun.stdout
    return "verbs"


def test_the_verbs_refuse_bad_input_with_the_reason_and_exit_2(tmp_path: Path, api: str, started: str) -> None:
    cases = {
        ("act", started, "run_sql", "{nope"): "the arguments are not valid JSON",
        ("act", started, "run_sql", "[1]"): "must be a JSON object",
        ("act", started, "deploy_site"): "step plan has no action 'deploy_site'",
        ("submit", started, "@/no/such/file.json"): "no file /no/such/file.json",
        ("step", "no-such-run"): "no-such-run",
        ("start",): "say what to build",
    }
    for args, message in cases.items():
        refused = _aw(tmp_path, api, *args)
        assert refused.returncode == 2, (args, refused.stdout, refused.stderr)
        assert message in refused.stderr, (args, refused.stderr)


def test_a_refused_output_exits_1_and_says_what_is_wrong(tmp_path: Path, api: str, started: str) -> None:
    _aw(tmp_path, api, "act", started, "ask_user", '{"question": "Build it?"}')
    assert _aw(tmp_path, api, "answer", started, "yes").returncode == 0

    refused = _aw(tmp_path, api, "submit", started, "-", stdin=json.dumps({"app": {}, "table_plan": []}))

    assert refused.returncode == 1
    view = json.loads(refused.stdout)
    assert view["ok"] is False and "rls_plan" in view["error"] and view["step"]["id"] == "plan"
