"""`appwright mcp`: the desk's verbs as an MCP server on stdio, for Claude Code, Cursor and the like.

Six tools, each a thin call into one `Desk` that lives as long as the server: an
embedded sandbox started by the first build keeps serving (and the apps it hosts
stay live) until the server stops. The desk's verbs are synchronous and run event
loops of their own, so each call runs in a worker thread, one at a time; a refused
verb comes back as a tool error whose text is the desk's message.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, Literal, NoReturn

import anyio
import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent
from pydantic import Field

from appwright.memory import StoreError

from .cli import appwright_home
from .cli_runs import _explicit_api, open_store
from .desk import Desk, DeskError
from .settings import RunSettings

__all__ = ["create_server", "serve", "INSTRUCTIONS"]

INSTRUCTIONS = """\
appwright builds and deploys a full-stack web app (Postgres, REST, auth, static site) on a
Run402-style backend, one checkpointed step at a time: plan, provision, create_tables, seed,
rls, site, deploy, subdomain, feedback.

How to drive a build:
1. start_build(idea=... or blueprint=...) records a run and returns its first step with its run id.
2. current_step(run) shows where the run stands: the step's card (what to do, the rules, the
   expected output), its context, the actions available with their argument schemas, and the
   JSON schema of the output.
3. call_action(run, name, args) calls one of those actions; repeat as the card says.
4. complete_step(run, output) hands in the step's output; the engine validates and verifies it
   against the backend. If ok is false, error says what is wrong: fix it and complete again.
   Otherwise the run moves to the next step: read it and go on from 3 until status is "done".
In steps that may ask the user (plan, feedback), ask_user is one of the actions: call it with
{"question": ...}, put the question to the user, then give their reply with answer(run, text)
and call ask_user again with the same question to read the answer.
log(run) shows every step's status, cost, message and output.
Keys are held by the engine: where a result or the context shows secret:NAME, write exactly that
text in the output; the engine fills in the value.
"""

Run = Annotated[str, Field(description="The run id that start_build returned.")]

View = Annotated[CallToolResult, dict[str, Any]]
"""A verb's JSON answer, as structured content and as its text; or a tool error saying why it was refused."""


def create_server(desk: Desk) -> MCPServer:
    """The MCP server whose tools call into this desk."""
    server = MCPServer("appwright", instructions=INSTRUCTIONS, log_level="WARNING")
    lock = anyio.Lock()  # one verb at a time: the desk and its lazily started sandbox are not shared

    async def call(verb: Callable[[], dict[str, Any]]) -> CallToolResult:
        async with lock:
            try:
                view = await anyio.to_thread.run_sync(verb)
            except (DeskError, StoreError) as refused:
                # Built here rather than raised as ToolError, which would prefix the desk's message.
                return CallToolResult(content=[TextContent(type="text", text=str(refused))], is_error=True)
        text = json.dumps(view, indent=2, default=str)
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=json.loads(text))

    @server.tool()
    async def start_build(
        idea: Annotated[str | None, Field(description="A one-line idea of the app to build.")] = None,
        blueprint: Annotated[str | None, Field(
            description="Or a bundled blueprint (todo, notes, poll, tasks, photos) or the path of a blueprint JSON file.")] = None,
        api: Annotated[str | None, Field(
            description="The backend's API base; default APPWRIGHT_API, RUN402_API_BASE, "
                        "else a local sandbox this server starts.")] = None,
        tier: Annotated[Literal["prototype", "hobby", "team"], Field(description="The tier to provision.")] = "prototype",
        budget_usd: Annotated[float, Field(gt=0, description="The most the whole run may spend, in USD.")] = 1.0,
    ) -> View:
        """Start a build (step 1 of driving one): records a run and returns its first step, like current_step.

        Give an idea or a blueprint. Keep the run_id of the answer: every other tool takes it.
        Next: read the step's card, call its actions with call_action, then complete_step.
        """
        return await call(partial(desk.start, _settings(idea, blueprint, api, tier, budget_usd)))

    @server.tool()
    async def current_step(run: Run) -> View:
        """Where a run stands: the current step's rendered card, its context, the actions available.

        Also the JSON schema its output must follow, the calls made so far, the user's answers
        to questions asked in the step, and `next`: what to do now. Status "acting" means the
        step waits for your actions and output; "waiting" that it waits for the user's answer
        (see answer); "done" that the app is live (app_url).
        """
        return await call(partial(desk.current, run))

    @server.tool()
    async def call_action(
        run: Run,
        name: Annotated[str, Field(description="An action of the current step (see current_step's actions).")],
        args: Annotated[dict[str, Any] | None, Field(
            description="The action's arguments, as its args schema says ({} when it takes none).")] = None,
    ) -> View:
        """Call one of the current step's actions; its result.

        Every call is journaled: the same call never runs (nor is paid for) twice. In steps that
        may ask the user, the action ask_user {"question": ...} puts a question to them: ask it,
        give their reply with answer, then call ask_user again with the same question to read it.
        When the step's work is done, hand in its output with complete_step.
        """
        return await call(partial(desk.act, run, name, args or {}))

    @server.tool()
    async def complete_step(
        run: Run,
        output: Annotated[dict[str, Any], Field(
            description="The step's output, following current_step's output_schema.")],
        step: Annotated[str | None, Field(
            description="The step instance the output is for (current_step's step.instance). Pass it: "
                        "a complete_step retried after its answer was lost then gets the next step, with "
                        "a note that this one was already finished, instead of having its output checked "
                        "against the next step.")] = None,
    ) -> View:
        """Hand in the current step's output; the engine validates it, verifies it against the backend, commits it.

        ok true: the step is done; told_user is what to tell the user, and the rest is the next
        step (as current_step shows it), or status "done" when the app is live. ok false: error
        says exactly what is wrong; the step stays, so fix it and complete_step again.
        """
        return await call(partial(desk.submit, run, output, step=step))

    @server.tool()
    async def answer(
        run: Run,
        text: Annotated[str, Field(description="The user's reply, in their words.")],
    ) -> View:
        """Give the user's reply to the question the run waits on (asked with the ask_user action).

        The run goes back to the step: call ask_user again with the same question to read the
        answer, and go on. Only when current_step's status is "waiting".
        """
        return await call(partial(desk.answer, run, text))

    @server.tool()
    async def log(run: Run) -> View:
        """The run's step log: each step's status, duration, cost, message to the user and output."""
        return await call(partial(desk.log, run))

    return server


_STOPS = (signal.SIGTERM, signal.SIGINT)
"""The signals that stop the server: a client's stop, a person's Ctrl-C."""


def serve() -> None:
    """Serve the tools on stdio until the client hangs up (or SIGTERM, Ctrl-C); then stop the sandbox."""
    desk = Desk(store=open_store(), sandbox_dir=appwright_home() / "sandbox")
    # A client stops its server with SIGTERM, a person with Ctrl-C: leave at once through
    # `finally`, so the sandbox stops (the loop's own Ctrl-C handling would wait for stdin).
    previous = {sig: signal.signal(sig, _terminate) for sig in _STOPS}
    stopped: int | None = None
    try:
        create_server(desk).run("stdio")
    except SystemExit as stop:
        stopped = stop.code if isinstance(stop.code, int) else 1
    finally:
        for sig in _STOPS:  # a second stop waits for the sandbox to stop
            signal.signal(sig, signal.SIG_IGN)
        desk.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopped is not None:
        # Stopped by a signal, the transport's stdin reader is a worker thread still blocked
        # on the open pipe: a normal exit would wait for it forever, and ours is all closed.
        sys.stderr.flush()
        os._exit(stopped)


def _settings(idea: str | None, blueprint: str | None, api: str | None, tier: str, budget_usd: float) -> RunSettings:
    explicit = _explicit_api(api)
    return RunSettings(
        agent="outside", idea=idea, blueprint=blueprint, api=explicit or "", embedded=explicit is None,
        tier=tier, budget_micros=int(round(budget_usd * 1_000_000)),
    )


def _terminate(signum: int, frame: Any) -> NoReturn:
    raise SystemExit(128 + signum)
