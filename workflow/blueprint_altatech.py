"""The blueprint agent's way through AltaTech's own steps: provision, create_tables and seed.

The other steps AltaTech runs are the same as on Run402 (plan), and the rest it skips, so
only these three differ from `BlueprintAgent`'s Run402 way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .session import StepSession

__all__ = ["ALTATECH_STEPS"]


async def _provision(session: StepSession) -> dict[str, Any]:
    project = await session.call("create_project", {})
    return {"project_id": project["project_id"], "api_key": project["api_key"]}


async def _create_tables(session: StepSession) -> dict[str, Any]:
    app = session.context.get("app") or {}
    created = []
    for table in session.context["table_plan"]:
        description = f"{table['name']} of {app.get('title', 'the app')}"[:128]
        result = await session.call("create_table", {"sql": table["sql"], "description": description})
        created.append({"name": result["name"], "table_id": result["table_id"],
                        "columns": [f["name"] for f in result["fields"]]})
    return {"tables_created": created}


async def _seed(session: StepSession) -> dict[str, Any]:
    seeded = []
    for entry in session.context["seed_plan"]:
        if entry["rows"]:
            await session.call("import_rows", {"table": entry["table"], "rows": entry["rows"]})
        seeded.append({"table": entry["table"], "rows": len(entry["rows"])})
    return {"seeded": seeded}


ALTATECH_STEPS: dict[str, Callable[[StepSession], Awaitable[dict[str, Any]]]] = {
    "provision": _provision, "create_tables": _create_tables, "seed": _seed,
}
"""The blueprint agent's handlers of AltaTech's own declarations, by step id."""
