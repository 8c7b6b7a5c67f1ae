"""The blueprint agent: completes every step deterministically from a blueprint.

It is what an LLM agent would be if it already knew the answer: it reads the same
card, calls the same actions through the same session and submits the same
outputs, so every guarantee of the engine (journal, verify, directive, log) holds
for it too. It runs offline and is the backbone of the tests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from appwright.platforms.run402 import ApiError
from appwright.steps import Step

from .blueprint import Blueprint
from .blueprint_altatech import ALTATECH_STEPS
from .session import StepSession

__all__ = ["BlueprintAgent", "PlanDeclined", "plan_from_blueprint"]

_MESSAGE_MICROS = 10_000  # POST /v1/message, the feedback step's one payment

_YES = {"y", "yes", "ok", "okay", "sure", "go", "build it", "yes please", "confirm"}


class PlanDeclined(RuntimeError):
    """The user did not confirm the plan."""


def plan_from_blueprint(bp: Blueprint) -> dict[str, Any]:
    """The plan step's output for a blueprint: the same app, in the pieces later steps need."""
    return {
        "app": {"name": bp.name, "title": bp.title, "description": bp.description, "subdomain": bp.subdomain},
        "table_plan": [{"name": t.name, "sql": t.sql, "columns": list(t.columns)} for t in bp.tables],
        "rls_plan": [r.model_dump() for r in bp.rls],
        "seed_plan": [{"table": s.table, "rows": s.rows} for s in bp.seed],
        "site_plan": [
            {"file": f.file, "data": (f.data or "").replace("{{APP_TITLE}}", bp.title), "encoding": f.encoding}
            for f in bp.site
        ],
        "feedback_plan": bp.feedback,
        "function_plan": [f.deployable() for f in bp.functions],
    }


@dataclass(kw_only=True)
class BlueprintAgent:
    """Completes steps from one blueprint."""

    blueprint: Blueprint
    """The app to build."""
    yes: bool = False
    """Accept confirmations the blueprint does not answer."""

    async def complete(self, session: StepSession) -> None:
        """Do the step the blueprint's way, and submit; a refused output is an error."""
        handlers = self._steps()
        if session.backend.platform == "altatech":  # its own provision, create_tables and seed
            handlers |= ALTATECH_STEPS
        output = await handlers[session.step.id](session)
        verdict = await session.submit(output)
        if not verdict.ok:
            raise RuntimeError(f"step {session.instance}: the blueprint's output was refused: {verdict.error}")

    def answer(self, step: Step, question: str) -> str | None:
        """The blueprint's answer for the step, else 'yes' under --yes, else ask the user."""
        if step.id in self.blueprint.answers:
            return self.blueprint.answers[step.id]
        if step.id == "feedback":
            return self.blueprint.feedback or None
        return "yes" if self.yes else None

    def _steps(self) -> dict[str, Callable[[StepSession], Awaitable[dict[str, Any]]]]:
        return {
            "plan": self._plan, "provision": self._provision, "create_tables": self._create_tables,
            "seed": self._seed, "rls": self._rls, "site": self._site, "deploy": self._deploy,
            "subdomain": self._subdomain, "feedback": self._feedback,
        }

    async def _plan(self, session: StepSession) -> dict[str, Any]:
        bp = self.blueprint
        tables = ", ".join(t.name for t in bp.tables)
        answer = session.ask(f"Build “{bp.title}” ({bp.description}) with tables {tables}? (yes/no)")
        if answer.strip().lower().rstrip(".!") not in _YES:
            raise PlanDeclined(f"the plan was not confirmed (answer: {answer!r})")
        return plan_from_blueprint(bp)

    async def _provision(self, session: StepSession) -> dict[str, Any]:
        quote = await session.call("quote", {})
        wallet = await session.call("ensure_wallet", {})
        balance = await session.call("wallet_balance", {})
        # The whole build must be payable: the project, the site, and the feedback message.
        price = quote["tiers"][session.backend.tier]["price_usd_micros"]
        needed = price + quote.get("site_deployment_usd_micros", 50_000) + _MESSAGE_MICROS
        if balance["available_usd_micros"] < needed and session.backend.network == "eip155:84532":
            await session.call("fund_wallet", {})
        project = await session.call("create_project", {})
        keys = ("project_id", "anon_key", "service_key", "schema_slot", "lease_expires_at")
        return {**{k: project[k] for k in keys}, "wallet_address": wallet["address"]}

    async def _create_tables(self, session: StepSession) -> dict[str, Any]:
        for table in session.context["table_plan"]:
            await session.call("run_sql", {"sql": table["sql"]})
        schema = await session.call("get_schema", {})
        planned = {t["name"] for t in session.context["table_plan"]}
        created = [
            {"name": t["name"], "columns": [c["name"] for c in t["columns"]]}
            for t in schema["tables"] if t["name"] in planned
        ]
        return {"tables_created": created}

    async def _seed(self, session: StepSession) -> dict[str, Any]:
        seeded = []
        for entry in session.context["seed_plan"]:
            if entry["rows"]:
                await session.call("insert_rows", {"table": entry["table"], "rows": entry["rows"]})
            seeded.append({"table": entry["table"], "rows": len(entry["rows"])})
        return {"seeded": seeded}

    async def _rls(self, session: StepSession) -> dict[str, Any]:
        by_template: dict[str, list[dict[str, Any]]] = {}
        for rule in session.context["rls_plan"]:
            entry = {"table": rule["table"], "owner_column": rule.get("owner_column")}
            by_template.setdefault(rule["template"], []).append(entry)
        for template, tables in by_template.items():
            await session.call("apply_rls", {"template": template, "tables": tables})
        return {"rls_applied": session.context["rls_plan"]}

    async def _site(self, session: StepSession) -> dict[str, Any]:
        files = session.context["site_plan"]
        await session.call("write_site", {"files": files})
        return {"site_files": files}

    async def _deploy(self, session: StepSession) -> dict[str, Any]:
        # Functions first: they are free, and the site calls them as soon as it is live.
        functions = []
        for planned in session.context.get("function_plan") or []:
            deployed = await session.call("deploy_function", {"name": planned["name"]})
            functions.append({"name": deployed["name"], "url": deployed["url"]})
        deployment = await session.call("deploy_site", {})
        return {"deployment_id": deployment["deployment_id"], "site_url": deployment["url"], "functions": functions}

    async def _subdomain(self, session: StepSession) -> dict[str, Any]:
        name = session.context["app"]["subdomain"]
        try:
            claimed = await session.call("claim_subdomain", {"name": name})
        except ApiError as error:
            if error.status != 409:
                raise
            # Taken by another project on this backend: make the name this project's own.
            name = f"{name}-{session.context['project_id'].removeprefix('prj_')[:6]}"
            claimed = await session.call("claim_subdomain", {"name": name})
        return {"subdomain": name, "app_url": claimed["url"]}

    async def _feedback(self, session: StepSession) -> dict[str, Any]:
        app_url = session.context["app_url"]
        answer = session.ask(f"Your app is live at {app_url}. What do you think? Anything to change?")
        await session.call("send_feedback", {"message": f"{session.context['app']['title']}: {answer}"})
        return {"feedback": answer, "change_request": None, "feedback_sent": True}
