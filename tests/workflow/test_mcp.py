"""An MCP client from the `mcp` SDK drives a whole build through `appwright mcp` over stdio.

The server is the real command, started as a subprocess the way Claude Code or Cursor
start it; it talks to the session's sandbox (APPWRIGHT_API), keeps its memory store
under a temporary APPWRIGHT_HOME, and is driven by the same outside-agent script as
the desk itself, through the tools' JSON answers.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from appwright.memory import MemoryStore, RunId
from appwright.workflow.blueprint import load_blueprint

from outside_script import drive

TOOLS = {"start_build", "current_step", "call_action", "complete_step", "answer", "log"}


class ToolFailed(Exception):
    """A tool answered with is_error; the message is its text."""


@dataclass
class McpVerbs:
    """The desk's verbs for `outside_script.drive`, each a call of an MCP tool."""

    portal: BlockingPortal
    client: Client

    def tool(self, tool: str, /, **args: Any) -> dict[str, Any]:
        """Call a tool; its JSON answer, read from the text an agent reads."""
        result = self.portal.call(self.client.call_tool, tool, args)
        text = result.content[0].text  # type: ignore[union-attr]
        if result.is_error:
            raise ToolFailed(text)
        answer = json.loads(text)
        assert result.structured_content == answer
        return answer

    def current(self, run_id: str) -> dict[str, Any]:
        return self.tool("current_step", run=run_id)

    def act(self, run_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        return self.tool("call_action", run=run_id, name=name, args=args)

    def submit(self, run_id: str, output: dict[str, Any], *, step: str | None = None) -> dict[str, Any]:
        return self.tool("complete_step", run=run_id, output=output, step=step)

    def answer(self, run_id: str, text: str) -> dict[str, Any]:
        return self.tool("answer", run=run_id, text=text)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def verbs(tmp_path: Path, home: Path, api: str) -> Iterator[McpVerbs]:
    server = StdioServerParameters(
        command=str(Path(sys.executable).with_name("appwright")), args=["mcp"],
        env={"APPWRIGHT_HOME": str(home), "APPWRIGHT_WALLET": str(tmp_path / "wallet.json"), "APPWRIGHT_API": api},
    )
    with (tmp_path / "server.stderr").open("w") as errlog, start_blocking_portal() as portal:
        connection = portal.wrap_async_context_manager(Client(stdio_client(server, errlog=errlog)))
        with connection as client:
            yield McpVerbs(portal, client)


def test_an_mcp_client_builds_the_todo_app_through_appwright_mcp(verbs: McpVerbs, home: Path, api: str) -> None:
    listed = verbs.portal.call(verbs.client.list_tools)
    assert {t.name for t in listed.tools} == TOOLS
    assert "complete_step" in (verbs.client.instructions or "")

    view = verbs.tool("start_build", blueprint="todo")
    run_id = view["run_id"]
    assert view["status"] == "acting" and view["step"]["id"] == "plan"
    assert "ask_user" in [a["name"] for a in view["actions"]]

    done = drive(verbs, run_id, load_blueprint("todo"))

    assert done["status"] == "done" and done["app_url"]
    log = verbs.tool("log", run=run_id)
    assert [s["step"] for s in log["steps"]] == [
        "plan", "provision", "create_tables", "seed", "rls", "site", "deploy", "subdomain", "feedback"]
    assert all(s["status"] == "done" for s in log["steps"])
    # APPWRIGHT_API was honoured: the run is on the session's sandbox, and no second one started.
    assert MemoryStore(home / "appwright.db").get_run(RunId(run_id)).api_base == api
    assert not (home / "sandbox").exists()


def test_refusals_come_back_as_tool_errors_with_the_desks_message(verbs: McpVerbs) -> None:
    run_id = verbs.tool("start_build", blueprint="todo")["run_id"]

    with pytest.raises(ToolFailed, match=r"^step plan has no action 'deploy_site'; its actions are"):
        verbs.act(run_id, "deploy_site", {})
    with pytest.raises(ToolFailed, match=r"^no run 'nope'"):
        verbs.current("nope")
    with pytest.raises(ToolFailed, match="not waiting for an answer"):
        verbs.answer(run_id, "yes")
    with pytest.raises(ToolFailed, match=r"^this output is for step deploy, but the run is at step plan"):
        verbs.submit(run_id, {}, step="deploy")
    with pytest.raises(ToolFailed, match="say what to build"):
        verbs.tool("start_build")
    assert verbs.current(run_id)["status"] == "acting"  # a refusal leaves the run as it was
