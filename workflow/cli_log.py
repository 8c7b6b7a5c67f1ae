"""`appwright log RUN`: the step log, as a table or as JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .cli import app
from .cli_runs import _get_run, open_store

# The memory store (sqlite-utils) loads only when `log` runs: `import appwright.workflow.cli` stays light.
if TYPE_CHECKING:
    from appwright.memory import RunId, StepId


@app.command()
def log(
    run: Annotated[str, typer.Argument(help="The run id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    step: Annotated[str | None, typer.Option(help="Show one step: its card, actions and output.")] = None,
) -> None:
    """The step log: each step's status, duration, cost and what the user was told."""
    from appwright.memory import StepId

    from .run_log import run_log

    store = open_store()
    record = _get_run(store, run)
    if step:
        _one_step(store, record.run_id, StepId(step), as_json)
        return
    entries = run_log(store, record)
    if as_json:
        typer.echo(json.dumps(entries, indent=2, default=str))
        return
    steps = entries["steps"]
    typer.echo(f"run {record.run_id}: {record.status}")
    for s in steps:
        cost = f"${s['cost_usd_micros'] / 1e6:.2f}" if s["cost_usd_micros"] else "-"
        duration = f"{s['duration_ms']} ms" if s["duration_ms"] is not None else "-"
        typer.echo(f"  {s['step']:<14} {s['status']:<9} {duration:>9} {cost:>6}  {s['message'] or ''}")


def _one_step(store: Any, run_id: RunId, step_id: StepId, as_json: bool) -> None:
    from appwright.memory import EventKind

    events = store.events(run_id, step_id)
    if not events:
        typer.echo(f"error: run {run_id} has no step {step_id!r}", err=True)
        raise typer.Exit(2)
    if as_json:
        typer.echo(json.dumps([_event(e) for e in events], indent=2, default=str))
        return
    for event in events:
        if event.kind == EventKind.PROMPT_SHOWN:
            typer.echo(event.data.get("card", ""))
        else:
            typer.echo(f"[{event.kind}] {json.dumps(event.data, default=str)[:500]}")


def _event(event: Any) -> dict[str, Any]:
    return {"kind": str(event.kind), "at": event.at, "data": event.data,
            "duration_ms": event.duration_ms, "cost_micros": event.cost_micros}
