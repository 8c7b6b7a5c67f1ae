"""Step 1: Plan the App — turn the request into a build plan the user confirms."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from appwright.memory import MemoryDirective, StepId

from .base import ActionContext, Step, VerifyFailed
from .functions import function_plan_problem

__all__ = ["PLAN", "PlanOutput"]


class PlanOutput(BaseModel):
    """The build plan, split the way later steps need it."""

    app: dict[str, Any] = Field(description="name, title, description, subdomain")
    table_plan: list[dict[str, Any]] = Field(description="tables: name, sql (one CREATE TABLE), columns")
    rls_plan: list[dict[str, Any]] = Field(description="per table: table, template, owner_column")
    seed_plan: list[dict[str, Any]] = Field(description="per table: table, rows")
    site_plan: list[dict[str, Any]] = Field(description="site files: file, data, encoding")
    feedback_plan: str = Field(default="", description="what the user will be asked to comment on")
    function_plan: list[dict[str, Any]] = Field(
        default_factory=list,
        description="serverless functions (none by default): name, code (an ES module with a default export "
        "taking a Request and returning a Response), config",
    )


async def _verify(ctx: ActionContext, output: PlanOutput) -> None:
    # Nothing exists on the backend yet: check that the pieces of the plan agree.
    declared = [t.get("name") for t in output.table_plan]
    if not declared or len(set(declared)) != len(declared):
        raise VerifyFailed(f"table_plan must name each table once; it names {declared}")
    for section in ("rls_plan", "seed_plan"):
        for entry in getattr(output, section):
            if entry.get("table") not in declared:
                raise VerifyFailed(f"{section} names table {entry.get('table')!r}, which table_plan does not declare")
    if "index.html" not in {f.get("file") for f in output.site_plan}:
        raise VerifyFailed("site_plan needs an index.html")
    for key in ("name", "title", "subdomain"):
        if not output.app.get(key):
            raise VerifyFailed(f"app.{key} is missing")
    problem = function_plan_problem(output.function_plan)
    if problem:
        raise VerifyFailed(problem)


PLAN = Step(
    number=1,
    id=StepId("plan"),
    title="Plan the App",
    phase="plan",
    context=("request",),
    actions=(),
    output=PlanOutput,
    verify=_verify,
    tell_user="Here is the plan for {app[title]}: {app[description]}",
    memory=MemoryDirective(
        store={"app", "table_plan", "rls_plan", "seed_plan", "site_plan", "feedback_plan", "function_plan"},
        discard={"request"},
    ),
    asks_user=True,
)
