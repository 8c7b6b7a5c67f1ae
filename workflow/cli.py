"""The `appwright` command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from .cli_wallet import wallet_app

__all__ = ["app", "main", "appwright_home"]

app = typer.Typer(
    name="appwright",
    help="Build and ship a full-stack app step by step, checkpointed, on a Run402-style backend.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(wallet_app, name="wallet")


@app.callback()
def _root() -> None:
    """Build and ship a full-stack app step by step, checkpointed, on a Run402-style backend."""


def appwright_home() -> Path:
    """Where the memory store and the sandbox's data live: APPWRIGHT_HOME or ~/.appwright."""
    return Path(os.environ.get("APPWRIGHT_HOME") or Path.home() / ".appwright").expanduser()


@app.command()
def sandbox(
    port: Annotated[int, typer.Option(help="Loopback port to serve on.")] = 8402,
    data_dir: Annotated[Path | None, typer.Option(help="Where its Postgres keeps its data.")] = None,
    database_url: Annotated[str | None, typer.Option(help="Use this existing Postgres (superuser DSN).")] = None,
) -> None:
    """Serve a local Run402-compatible API over an embedded Postgres until Ctrl-C."""
    from appwright.sandbox.app import SandboxConfig
    from appwright.sandbox.postgres import PostgresError
    from appwright.sandbox.server import serve_forever

    data = (data_dir or appwright_home() / "sandbox").expanduser().resolve()

    def ready(url: str) -> None:
        typer.echo(f"appwright sandbox: API base {url}")
        typer.echo(f"data: {'the Postgres at --database-url' if database_url else data}")
        typer.echo("Ctrl-C to stop.")

    try:
        serve_forever(SandboxConfig(data_dir=data, database_url=database_url), port=port, on_ready=ready)
    except (OSError, PostgresError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass


def main() -> None:
    """Entry point of the `appwright` script.

    The command's exit skips the interpreter's teardown of its modules (~0.5 s after a
    build) once everything is closed and flushed; see `cli_exit`.
    """
    import gc

    from .cli_exit import exit_now

    # Commands load most of their modules lazily (LangGraph, pydantic models, httpx):
    # at the default thresholds the cyclic GC rescans that growing heap of module
    # objects over and over (~0.2 s of a build; ~0.01 s with these). mypy's thresholds;
    # garbage is still collected, in long-running commands too, in larger batches.
    gc.set_threshold(200_000, 30, 10)
    try:
        app()
    except SystemExit as done:  # click ends every command, success included, this way
        exit_now(done.code)
        raise
    exit_now(0)


# The commands live in their own modules; importing them registers them on `app`. They
# import only typer and the light standard library at their top: each command loads the
# rest of what it uses when it runs, so that `appwright sandbox` starts fast
# (tests/workflow/test_cli_imports.py keeps it so).
from . import cli_agent, cli_log, cli_mcp, cli_projects, cli_runs  # noqa: E402,F401
