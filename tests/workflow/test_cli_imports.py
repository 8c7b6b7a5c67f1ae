"""The CLI loads a command's modules when the command runs, not when it is imported.

`appwright sandbox` must answer its first request fast, so importing
`appwright.workflow.cli` (and building its commands' help, which resolves every
command's parameter annotations) must not load the memory store, the wallet's crypto,
the HTTP client, LangGraph or pydantic. Each test runs a fresh interpreter: this one
already holds the sandbox the fixtures import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

APPWRIGHT = Path(sys.executable).with_name("appwright")

HEAVY = (
    "sqlite_utils", "appwright.memory", "appwright.platforms", "appwright.sandbox", "coincurve", "Crypto",
    "cffi", "httpx", "langgraph", "langchain", "langchain_core", "pydantic", "pydantic_core", "fastapi",
    "asyncpg", "eth_account",
)
"""Packages no command needs before it runs: each costs from ~5 ms to ~0.6 s to import."""

TYPERS_OWN = ("pydantic", "pydantic_core")
"""Typer coerces every parameter's value with a pydantic TypeAdapter, so these load once a command parses its arguments."""

_EVERY_HELP = """
import json, sys
import typer.main
from typer.testing import CliRunner
from appwright.workflow.cli import app

group = typer.main.get_command(app)
paths = [[]] + [[name] for name in group.commands]
paths += [[name, sub] for name, cmd in group.commands.items() for sub in getattr(cmd, "commands", {}) or {}]
codes = {" ".join(path): CliRunner().invoke(app, [*path, "--help"]).exit_code for path in paths}
print(json.dumps({"codes": codes, "modules": sorted(sys.modules)}))
"""
"""Asks every command and subcommand for its help; prints the exit codes and the modules then loaded."""


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _heavy(modules: list[str], *, allowed: tuple[str, ...] = ()) -> list[str]:
    """The modules of `modules` that belong to a package of HEAVY, except those of `allowed`."""
    heavy = [h for h in HEAVY if h not in allowed]
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in heavy)]


def test_importing_the_cli_loads_no_heavy_module() -> None:
    modules = json.loads(_python("import appwright.workflow.cli, json, sys; print(json.dumps(sorted(sys.modules)))"))
    assert _heavy(modules) == []
    # The command modules themselves do load: importing them registers the commands.
    assert {"typer", "appwright.workflow.cli_runs", "appwright.workflow.cli_wallet"} <= set(modules)


def test_every_commands_help_resolves_without_heavy_modules() -> None:
    found = json.loads(_python(_EVERY_HELP))
    assert {"sandbox", "build", "log", "wallet status", "projects renew"} <= set(found["codes"])
    assert {path: code for path, code in found["codes"].items() if code != 0} == {}
    assert _heavy(found["modules"], allowed=TYPERS_OWN) == []


def test_sandbox_help_still_works() -> None:
    done = subprocess.run([str(APPWRIGHT), "sandbox", "--help"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120, env={**os.environ, "COLUMNS": "200"})  # no wrapping
    assert done.returncode == 0, done.stderr
    assert "Serve a local Run402-compatible API over an embedded Postgres until Ctrl-C." in done.stdout
    for option in ("--port", "--data-dir", "--database-url"):
        assert option in done.stdout
