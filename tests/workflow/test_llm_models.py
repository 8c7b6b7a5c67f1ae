"""Choosing a model: `appwright build IDEA --model PROVIDER:MODEL`, and its refusals.

The refusals run the real `appwright` process. A provider's package is stood in for by a
module on PYTHONPATH: one that fails to import (the extra is not installed), or one whose
chat model class is the scripted fake model (so a whole build runs through the CLI with
no network and no key of any provider).
"""

from __future__ import annotations

import os
import subprocess
import textwrap
import types
from pathlib import Path

import pytest
from buildkit import APPWRIGHT, Kit, Proc

from appwright.workflow.models import ModelError, chat_model

HERE = Path(__file__).parent
KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")


def appwright(kit: Kit, *args: str, shims: Path | None = None, **env: str) -> Proc:
    """`appwright ARGS` with the kit's home, no provider key unless given, and `shims` first on the path."""
    environment = {k: v for k, v in kit.env().items() if k not in KEYS and k != "PYTHONPATH"}
    environment.update(env)
    if shims is not None:
        environment["PYTHONPATH"] = os.pathsep.join([str(shims), str(HERE)])
    done = subprocess.run([str(APPWRIGHT), *args], env=environment, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=180, cwd=kit.root)
    return Proc(list(args), done.returncode, done.stdout, done.stderr, 0.0)


def shim(folder: Path, module: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / f"{module}.py").write_text(textwrap.dedent(text))
    return folder


def refused(proc: Proc, kit: Kit) -> str:
    """The refusal's text, after checking it is one: exit 2, no traceback, nothing started or recorded."""
    assert proc.returncode == 2, proc.output
    assert "Traceback" not in proc.output, proc.output
    assert not kit.db.exists() and not (kit.home / "sandbox").exists(), "something was started or recorded"
    return proc.stderr


def test_an_unknown_provider_is_refused_listing_the_known_ones(tmp_path: Path) -> None:
    kit = Kit(root=tmp_path, api="http://127.0.0.1:9")
    said = refused(appwright(kit, "build", "a shared shopping list", "--model", "acme:big-1"), kit)
    assert "unknown model provider 'acme'; known providers: anthropic, openai" in said


def test_a_missing_extra_names_the_pip_command(tmp_path: Path) -> None:
    kit = Kit(root=tmp_path, api="http://127.0.0.1:9")
    shims = shim(tmp_path / "shims", "langchain_anthropic", 'raise ImportError("No module named langchain_anthropic")')
    proc = appwright(kit, "build", "a shared shopping list", "--model", "anthropic:claude-sonnet-4-5",
                     shims=shims, ANTHROPIC_API_KEY="sk-test")
    assert "pip install 'appwright[anthropic]'" in refused(proc, kit)


def test_a_missing_key_names_the_variable(tmp_path: Path) -> None:
    kit = Kit(root=tmp_path, api="http://127.0.0.1:9")
    shims = shim(tmp_path / "shims", "langchain_openai", "class ChatOpenAI:\n    def __init__(self, **kw): pass\n")
    proc = appwright(kit, "build", "a shared shopping list", "--model", "openai:gpt-4.1", shims=shims)
    assert "openai:gpt-4.1 needs an API key: set OPENAI_API_KEY" in refused(proc, kit)


def test_an_idea_needs_a_model_or_a_blueprint(tmp_path: Path) -> None:
    kit = Kit(root=tmp_path, api="http://127.0.0.1:9")
    assert "--blueprint" in refused(appwright(kit, "build", "a shared shopping list"), kit)
    assert "PROVIDER:MODEL" in refused(appwright(kit, "build", "x", "--model", "anthropic"), kit)


def test_chat_model_builds_the_providers_class_with_the_model_name(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[dict[str, object]] = []
    module = types.ModuleType("langchain_anthropic")
    module.ChatAnthropic = lambda **kw: made.append(kw) or "model"  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "langchain_anthropic", module)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    assert chat_model("anthropic:claude-sonnet-4-5") == "model"
    assert made[0]["model"] == "claude-sonnet-4-5"
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(ModelError, match="ANTHROPIC_API_KEY"):
        chat_model("anthropic:claude-sonnet-4-5")


SCRIPTED_OPENAI = """
from llm_script import ScriptedModel, todo_script

class ChatOpenAI(ScriptedModel):
    def __init__(self, *, model, **kw):
        super().__init__(script=todo_script())
"""


@pytest.mark.timeout(300)
def test_build_with_a_model_stops_when_turns_run_out_and_resume_finishes(api: str, tmp_path: Path) -> None:
    kit = Kit(root=tmp_path, api=api)
    shims = shim(tmp_path / "shims", "langchain_openai", SCRIPTED_OPENAI)
    run_id = kit.new_run_id()
    args = ("--blueprint", "todo", "--model", "openai:scripted", "--max-turns", "3", "--api", api,
            "--run-id", run_id, "--yes", "--no-serve")
    built = appwright(kit, "build", "a todo list", *args, shims=shims, OPENAI_API_KEY="sk-test")

    assert built.returncode == 4, built.output  # unfinished, resumable
    assert f"run {run_id} stopped: step provision used its 3 model turns" in built.stdout, built.output
    assert f"continue with: appwright resume {run_id}" in built.stdout

    resumed = appwright(kit, "resume", run_id, "--no-serve", shims=shims, OPENAI_API_KEY="sk-test")
    assert resumed.returncode == 0, resumed.output
    assert "done; spent $0.16" in resumed.stdout, resumed.output
    assert "your app is live at http://shared-todo-" in resumed.stdout
