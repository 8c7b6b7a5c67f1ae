"""`appwright start | step | act | submit`: the desk's verbs for agents that only have a shell.

An agent with a shell drives a run one command at a time, exactly as an MCP client
does through `appwright mcp`: `start` a build, read the current `step`, `act` (call
one of its actions with JSON arguments), `submit` its output as JSON; `answer` gives
the user's reply to a question. Every command prints JSON (or, for `step`, the card
as text without --json) and exits non-zero with the reason when it is refused.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .cli import app, appwright_home
from .cli_runs import _explicit_api, open_store

if TYPE_CHECKING:
    from .desk import Desk

__all__: list[str] = []


@app.command()
def start(
    idea: Annotated[str | None, typer.Argument(help="What to build, in one line (or give --blueprint).")] = None,
    blueprint: Annotated[str | None, typer.Option(help="A bundled blueprint or a path: the spec to follow.")] = None,
    api: Annotated[str | None, typer.Option(help="API base; default: APPWRIGHT_API, RUN402_API_BASE, else an embedded sandbox.")] = None,
    tier: Annotated[str, typer.Option(help="prototype, hobby or team.")] = "prototype",
    budget: Annotated[float, typer.Option(help="The most this run may spend, in USD.")] = 1.0,
    run_id: Annotated[str | None, typer.Option(help="Name the run (default: a new id).")] = None,
) -> None:
    """Start a build driven by you, an outside agent: then step, act, submit."""
    from .runner import RunSettings

    explicit = _explicit_api(api)
    settings = RunSettings(agent="outside", idea=idea, blueprint=blueprint, api=explicit or "", tier=tier,
                           embedded=explicit is None, budget_micros=int(round(budget * 1_000_000)))
    _print(_with_desk(lambda desk: desk.start(settings, run_id=run_id)), card=True)


@app.command()
def step(
    run: Annotated[str, typer.Argument(help="The run id.")],
    as_json: Annotated[bool, typer.Option("--json", help="The whole view as JSON: card, context, actions, output schema.")] = False,
) -> None:
    """The run's current step: its card, context, actions and the output it expects."""
    _print(_with_desk(lambda desk: desk.current(run)), card=not as_json)


@app.command()
def act(
    run: Annotated[str, typer.Argument(help="The run id.")],
    name: Annotated[str, typer.Argument(help="The action, e.g. run_sql (see: appwright step RUN).")],
    args: Annotated[str, typer.Argument(help="Its arguments as a JSON object; '-' reads stdin, @FILE a file.")] = "{}",
) -> None:
    """Call one of the current step's actions (journaled: never done twice); prints its result."""
    arguments = _json_object(args, "the arguments")
    _print(_with_desk(lambda desk: desk.act(run, name, arguments)))


@app.command()
def submit(
    run: Annotated[str, typer.Argument(help="The run id.")],
    output: Annotated[str, typer.Argument(help="The step's output as a JSON object; '-' reads stdin, @FILE a file.")],
    step: Annotated[str | None, typer.Option(
        help="The step the output is for (as `step` shows it, e.g. site~2). A retried submit of a step "
             "already finished shows the next step with a note instead of checking the output against "
             "it; an output for a step the run has not reached is refused (exit 2).")] = None,
) -> None:
    """Hand in the current step's output; the engine validates, verifies and commits it."""
    value = _json_object(output, "the output")
    view = _with_desk(lambda desk: desk.submit(run, value, step=step))
    _print(view)
    if not view.get("ok"):
        raise typer.Exit(1)


def _with_desk(verb: Any) -> dict[str, Any]:
    from appwright.memory import RunBusy

    from .desk import Desk, DeskError

    desk = Desk(store=open_store(), sandbox_dir=appwright_home() / "sandbox")
    try:
        return dict(verb(desk))
    except DeskError as refused:
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(2) from None
    except RunBusy as busy:  # another process holds the run: exit 3, as for build and resume
        typer.echo(f"error: {busy}", err=True)
        raise typer.Exit(3) from None
    finally:
        desk.close()


def _json_object(text: str, what: str) -> dict[str, Any]:
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            _refuse(f"{what}: no file {path}")
        text = path.read_text()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        _refuse(f"{what} are not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})")
    if not isinstance(value, dict):
        _refuse(f"{what} must be a JSON object, like {{\"sql\": \"...\"}}; got {type(value).__name__}")
    return value


def _refuse(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _print(view: dict[str, Any], *, card: bool = False) -> None:
    if card and "card" in view:
        _print_card(view)
        return
    typer.echo(json.dumps(view, indent=2, default=str))


def _print_card(view: dict[str, Any]) -> None:
    where = view["step"]
    typer.echo(f"run {view['run_id']} — step {where['number']}/{where['of']}: {where['title']} ({view['status']})\n")
    typer.echo(view["card"])
    typer.echo("\nactions: " + ", ".join(a["name"] for a in view["actions"]) or "none")
    typer.echo(f"next: {view['next']}")
    typer.echo(f"the full view as JSON (arguments and output schemas): appwright step {view['run_id']} --json")
