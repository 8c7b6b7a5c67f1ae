"""`appwright mcp`: serve the build verbs to an outside agent over MCP on stdio."""

from __future__ import annotations

from .cli import app

__all__: list[str] = []


@app.command("mcp")
def mcp_command() -> None:
    """Serve the build verbs to an outside agent (Claude Code, Cursor, …) over MCP on stdio."""
    # The MCP SDK, the engine and the sandbox load only for this command: `appwright --help` stays fast.
    from .mcp_server import serve

    serve()
