"""`appwright build | resume | answer | runs | log | show`: running runs and reading them."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .cli import app, appwright_home

# The memory store (sqlite-utils), the engine, the sandbox and LangGraph load only for
# the commands that use them: `appwright sandbox` and `--help` never pay for them.
if TYPE_CHECKING:
    from appwright.memory import MemoryStore, RunId

    from .embedded import EmbeddedSandbox
    from .runner import Outcome, Runner

__all__ = ["open_store"]


def open_store() -> MemoryStore:
    """The memory store under APPWRIGHT_HOME."""
    from appwright.memory import MemoryStore, StoreError

    home = appwright_home()
    home.mkdir(parents=True, exist_ok=True)
    try:
        return MemoryStore(home / "appwright.db")
    except StoreError as error:
        _fail(str(error))


_STOPPED = 4
"""The exit code of a run that stopped unfinished, resumable (e.g. a step's turns ran out)."""


def _fail(message: str, code: int = 1) -> Any:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _explicit_api(api: str | None) -> str | None:
    import os

    return api or os.environ.get("APPWRIGHT_API") or os.environ.get("RUN402_API_BASE")


@app.command()
def build(
    idea: Annotated[str | None, typer.Argument(help="What to build, in a line (with --model).")] = None,
    blueprint: Annotated[str | None, typer.Option(help="A bundled blueprint (todo, notes, poll, tasks, photos) or a path to one.")] = None,
    model: Annotated[str | None, typer.Option(help="Build with an LLM: PROVIDER:MODEL, e.g. anthropic:claude-sonnet-4-5.")] = None,
    max_turns: Annotated[int, typer.Option(help="Model turns per step before the run stops, resumable.")] = 24,
    api: Annotated[str | None, typer.Option(help="API base; default: APPWRIGHT_API, RUN402_API_BASE, else an embedded sandbox.")] = None,
    tier: Annotated[str, typer.Option(help="prototype, hobby or team.")] = "prototype",
    budget: Annotated[float, typer.Option(help="The most this run may spend, in USD.")] = 1.0,
    run_id: Annotated[str | None, typer.Option(help="Name the run (default: a new id).")] = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop the embedded sandbox when the build ends.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Accept confirmations without asking.")] = False,
    mainnet: Annotated[bool, typer.Option("--mainnet", help="Pay on Base mainnet (real money).")] = False,
    platform: Annotated[str, typer.Option(help="run402 (the whole app) or altatech (its tables and rows).")] = "run402",
) -> None:
    """Build and deploy an app from a blueprint, or from an idea with an LLM, step by step, checkpointed."""
    from dataclasses import replace

    from appwright.memory import RunExists

    from .blueprint import BlueprintError
    from .runner import RunSettings, SettingsError
    if tier not in ("prototype", "hobby", "team"):
        _fail(f"unknown tier {tier!r}: use prototype, hobby or team", 2)
    if budget <= 0:
        _fail("--budget must be more than 0 (USD)", 2)
    explicit = _explicit_api(api)
    settings = RunSettings(
        blueprint=blueprint, api="", tier=tier, budget_micros=int(round(budget * 1_000_000)), yes=yes,
        network="eip155:8453" if mainnet else "eip155:84532",
        agent="llm" if model else "blueprint", idea=idea, model=model, max_turns=max_turns,
        platform=platform,  # type: ignore[arg-type]  # checked by settings.check
    )
    _check_agent(settings)  # a missing extra or key is refused before anything starts or is recorded
    sandbox = None if explicit else _embedded()
    store = open_store()
    try:
        base = explicit or sandbox.start()  # type: ignore[union-attr]
        settings = replace(settings, api=base, embedded=sandbox is not None)
        runner = _runner(store)
        run = runner.create(settings, run_id=run_id)
        typer.echo(f"run {run.run_id} — building {blueprint or idea!r} on {base}")
        _drive(runner, run.run_id)
        _serve_until_ctrl_c(sandbox, no_serve)
    except (BlueprintError, RunExists, SettingsError) as error:
        _fail(str(error), 2)
    finally:
        if sandbox is not None:
            sandbox.stop()


def _check_agent(settings: Any) -> None:
    """Refuse settings that cannot run, and a model that cannot be had, with exit code 2."""
    from .runner import SettingsError

    try:
        settings.check()
    except SettingsError as error:
        _fail(str(error), 2)
    if settings.model:
        from .models import ModelError, chat_model

        try:
            chat_model(settings.model)
        except ModelError as error:
            _fail(str(error), 2)


@app.command()
def resume(run: Annotated[str, typer.Argument(help="The run id.")],
           no_serve: Annotated[bool, typer.Option("--no-serve")] = False) -> None:
    """Continue a run from its last checkpoint; a finished run is left as it is."""
    store = open_store()
    runner = _runner(store)
    record = _get_run(store, run)
    if record.status == "done":
        typer.echo(f"run {run} is already done; nothing to do. Its app: {_app_url(store, record.run_id)}")
        return
    settings = runner.settings(record.run_id)
    sandbox = _embedded(settings.api) if settings.embedded else None
    try:
        api = sandbox.start() if sandbox else None
        typer.echo(f"resuming run {run} at step {record.current_step or 'plan'}")
        _drive(runner, record.run_id, api=api)
        _serve_until_ctrl_c(sandbox, no_serve)
    finally:
        if sandbox is not None:
            sandbox.stop()


@app.command()
def answer(run: Annotated[str, typer.Argument(help="The run id.")],
           text: Annotated[str, typer.Argument(help="Your answer to the run's question.")]) -> None:
    """Answer the question a run waits on, and let it continue."""
    store = open_store()
    record = _get_run(store, run)
    if record.status != "waiting":
        _fail(f"run {run} is not waiting for an answer (it is {record.status})", 2)
    runner = _runner(store)
    settings = runner.settings(record.run_id)
    if settings.agent == "outside":  # the outside agent reads the answer with its next step
        from appwright.memory import RunBusy

        from .desk import Desk, DeskError

        try:
            view = Desk(store=store, sandbox_dir=appwright_home() / "sandbox").answer(run, text)
        except DeskError as refused:
            _fail(str(refused), 2)
        except RunBusy as busy:
            _fail(str(busy), 3)
        typer.echo(f"answered; run {run} is {view['status']} at step {view['step']['instance']}: "
                   f"see it with appwright step {run}")
        return
    sandbox = _embedded(settings.api) if settings.embedded else None
    try:
        api = sandbox.start() if sandbox else None
        _drive(runner, record.run_id, answer=text, api=api)
    finally:
        if sandbox is not None:
            sandbox.stop()


def _embedded(url: str | None = None) -> EmbeddedSandbox:
    # The sandbox (Starlette, uvicorn, asyncpg) is imported only by the runs that start one.
    from .embedded import EmbeddedSandbox

    return EmbeddedSandbox(data_dir=appwright_home() / "sandbox", url=url)


def _runner(store: MemoryStore) -> Runner:
    from .progress import Progress
    from .runner import Runner

    progress = Progress.for_terminal(sys.stdout)
    return Runner(store=store, say=progress.say, report=progress.report)


def _drive(runner: Runner, run_id: RunId, *, answer: str | None = None, api: str | None = None) -> None:
    """Run until done; in a terminal, ask the user each question the run waits on."""
    from appwright.memory import RunBusy

    try:
        outcome = runner.run(run_id, answer=answer, api=api)
        while outcome.question is not None and sys.stdin.isatty():
            reply = typer.prompt(outcome.question.get("question", "?"))
            outcome = runner.run(run_id, answer=reply, api=api)
    except RunBusy as busy:
        _fail(str(busy), 3)
    except KeyboardInterrupt:
        _fail(f"interrupted; continue with: appwright resume {run_id}", 130)
    except Exception as error:  # the run is recorded as failed, resumable
        _fail(f"{error}\nthe run stopped at step {runner.store.get_run(run_id).current_step}; "
              f"after fixing the cause, continue with: appwright resume {run_id}")
    _report(runner.store, outcome)


def _report(store: MemoryStore, outcome: Outcome) -> None:
    run = outcome.run
    if outcome.question is not None:
        typer.echo(f"run {run.run_id} waits for your answer: {outcome.question.get('question')}")
        typer.echo(f'answer with: appwright answer {run.run_id} "<your answer>"')
        return
    if run.status == "acting":
        typer.echo(f"run {run.run_id} waits for its outside agent: see the step with appwright step {run.run_id}")
        return
    spent = store.total_spent(run.run_id)
    if outcome.paused is not None and run.status == "stopped":
        typer.echo(f"run {run.run_id} stopped: {outcome.paused}; spent ${spent / 1e6:.2f}")
        typer.echo(f"continue with: appwright resume {run.run_id}")
        raise typer.Exit(_STOPPED)
    typer.echo(f"run {run.run_id}: {run.status}; spent ${spent / 1e6:.2f}")
    if run.status == "done" and run.platform == "altatech":  # no site: the tables are the result
        tables = store.all_facts(run.run_id, redact=True).get("tables_created") or []
        typer.echo(f"your tables are on AltaTech at {run.api_base}: "
                   + ", ".join(f"{t['name']} ({t['table_id']})" for t in tables))
    elif run.status == "done":
        typer.echo(f"your app is live at {_app_url(store, run.run_id)}")


def _serve_until_ctrl_c(sandbox: EmbeddedSandbox | None, no_serve: bool) -> None:
    if sandbox is None or sandbox.server is None or no_serve:
        return
    typer.echo("serving the sandbox so the app stays live; Ctrl-C to stop.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        typer.echo("stopped.")


def _get_run(store: MemoryStore, run: str) -> Any:
    from appwright.memory import RunId, UnknownRun

    try:
        return store.get_run(RunId(run))
    except UnknownRun as error:
        _fail(str(error), 2)


def _app_url(store: MemoryStore, run_id: RunId) -> str:
    facts = store.all_facts(run_id, redact=False)
    return str(facts.get("app_url") or facts.get("site_url") or "(not deployed yet)")


@app.command()
def runs(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """List runs, newest first."""
    store = open_store()
    rows = [
        {"run_id": r.run_id, "status": r.status, "step": r.current_step, "blueprint": r.blueprint,
         "api": r.api_base, "created_at": r.created_at.isoformat(), "spent_usd_micros": store.total_spent(r.run_id)}
        for r in store.list_runs()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['run_id']}  {row['status']:<8} {row['step'] or '-':<14} {row['blueprint']}  "
                   f"${row['spent_usd_micros'] / 1e6:.2f}")
    if not rows:
        typer.echo("no runs yet: start one with appwright build --blueprint todo")


@app.command()
def show(run: Annotated[str, typer.Argument(help="The run id.")]) -> None:
    """The run's memory, secrets redacted."""
    store = open_store()
    record = _get_run(store, run)
    facts = store.all_facts(record.run_id, redact=True)
    typer.echo(json.dumps({"run_id": record.run_id, "status": record.status, "memory": facts}, indent=2, default=str))
