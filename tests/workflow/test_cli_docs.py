"""Every CLI command is documented in the README, and every documented command exists."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from appwright.workflow.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


def _commands() -> set[str]:
    group = typer.main.get_command(app)
    names: set[str] = set()
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        if sub:
            names.update(f"{name} {s}" for s in sub)
        else:
            names.add(name)
    return names


def _documented() -> str:
    return README.read_text()


def test_every_command_is_in_the_readme() -> None:
    text = _documented()
    missing = []
    for command in sorted(_commands()):
        group, _, verb = command.partition(" ")
        if verb:
            found = re.search(rf"`appwright {group} [^`]*\b{verb}\b", text)
        else:
            found = re.search(rf"`appwright {group}\b", text)
        if not found:
            missing.append(command)
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_documented_command_exists() -> None:
    top = {c.split(" ")[0] for c in _commands()}
    documented = set(re.findall(r"`appwright ([a-z]+)", _documented()))
    assert documented <= top, f"README documents commands that do not exist: {sorted(documented - top)}"


def test_the_readme_names_the_two_quick_start_commands() -> None:
    text = _documented()
    assert "make demo" in text and "make test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci
