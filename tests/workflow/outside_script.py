"""An outside agent in a few lines: drives a whole build through the desk's verbs.

It is what Claude Code or a shell script would do, written down once so that the
desk, the shell verbs and the MCP server are all driven the same way: read the
current step, call its actions with what the blueprint says, hand in the output.
Any object with `current`, `act`, `submit` and `answer` (each returning the JSON the
desk returns) can be driven.
"""

from __future__ import annotations

from typing import Any, Protocol

from appwright.workflow.blueprint import Blueprint
from appwright.workflow.blueprint_agent import plan_from_blueprint


class Verbs(Protocol):
    def current(self, run_id: str) -> dict[str, Any]: ...
    def act(self, run_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]: ...
    def submit(self, run_id: str, output: dict[str, Any], *, step: str | None = None) -> dict[str, Any]: ...
    def answer(self, run_id: str, text: str) -> dict[str, Any]: ...


def drive(verbs: Verbs, run_id: str, bp: Blueprint, *, until: str | None = None, max_steps: int = 20) -> dict[str, Any]:
    """Complete the run's steps (up to the step instance `until`); the desk's last view."""
    view = verbs.current(run_id)
    for _ in range(max_steps):
        if view["status"] == "done" or (until and view["step"]["instance"] == until):
            return view
        step = view["step"]["id"]
        output = STEP_OUTPUTS[step](verbs, run_id, view, bp)
        view = verbs.submit(run_id, output, step=view["step"]["instance"])
        assert view["ok"], view.get("error")
    raise AssertionError(f"the run did not finish in {max_steps} steps: {view}")


def _result(verbs: Verbs, run_id: str, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    return verbs.act(run_id, name, args or {})["result"]


def _plan(verbs: Verbs, run_id: str, view: dict[str, Any], bp: Blueprint) -> dict[str, Any]:
    asked = _result(verbs, run_id, "ask_user", {"question": f"Build {bp.title}?"})
    assert asked["answer"] is None and verbs.current(run_id)["status"] == "waiting"
    verbs.answer(run_id, "yes")
    again = _result(verbs, run_id, "ask_user", {"question": f"Build {bp.title}?"})
    assert again["answer"] == "yes"
    return plan_from_blueprint(bp)


def _provision(verbs: Verbs, run_id: str, view: dict[str, Any], bp: Blueprint) -> dict[str, Any]:
    wallet = _result(verbs, run_id, "ensure_wallet")
    _result(verbs, run_id, "fund_wallet")
    project = _result(verbs, run_id, "create_project")
    keys = ("project_id", "anon_key", "service_key", "schema_slot", "lease_expires_at")
    return {**{k: project[k] for k in keys}, "wallet_address": wallet["address"]}


def _create_tables(verbs: Verbs, run_id: str, view: dict[str, Any], bp: Blueprint) -> dict[str, Any]:
    for table in bp.tables:
        _result(verbs, run_id, "run_sql", {"sql": table.sql})
    schema = _result(verbs, run_id, "get_schema")
    planned = {t.name for t in bp.tables}
    return {"tables_created": [{"name": t["name"], "columns": [c["name"] for c in t["columns"]]}
                               for t in schema["tables"] if t["name"] in planned]}


def _seed(verbs: Verbs, run_id: str, view: dict[str, Any], bp: Blueprint) -> dict[str, Any]:
    for entry in (e for e in bp.seed if e.rows):
        _result(verbs, run_id, "insert_rows", {"table": entry.table, "rows": entry.rows})
    return {"seeded": [{"table": e.table, "rows": len(e.rows)} for e in bp.seed]}


def _rls(verbs: Verbs, run_id: str, view: dict[str, Any], bp: Blueprint) -> dict[str, Any]:
    for rule in bp.rls:
        entry = {"table": rule.table, "owner_column": rule.owner_column}
        _result(verbs, run_id, "apply_rls", {"template": rule.template, "tables": [entry]})
    return {"rls_applied": [r.model_dump() for r in bp.rls]}


def _site(verbs: Verbs, run_id: str, view: dict[str, Any], bp: Blueprint) -> dict[str, Any]:
    files = view["context"]["site_plan"]
    _result(verbs, run_id, "write_site", {"files": files})
    return {"site_files": files}


def _deploy(verbs: Verbs, run_id: str, view: dict[str, Any], bp: Blueprint) -> dict[str, Any]:
    deployment = _result(verbs, run_id, "deploy_site")
    return {"deployment_id": deployment["deployment_id"], "site_url": deployment["url"]}


def _subdomain(verbs: Verbs, run_id: str, view: dict[str, Any], bp: Blueprint) -> dict[str, Any]:
    project = view["context"]["project_id"].removeprefix("prj_")[:6]
    name = f"{bp.subdomain}-{project}"  # this backend is shared by many tests' builds
    claimed = _result(verbs, run_id, "claim_subdomain", {"name": name})
    return {"subdomain": name, "app_url": claimed["url"]}


def _feedback(verbs: Verbs, run_id: str, view: dict[str, Any], bp: Blueprint) -> dict[str, Any]:
    _result(verbs, run_id, "send_feedback", {"message": f"{bp.title}: looks good"})
    return {"feedback": "looks good", "change_request": None, "feedback_sent": True}


STEP_OUTPUTS = {
    "plan": _plan, "provision": _provision, "create_tables": _create_tables, "seed": _seed, "rls": _rls,
    "site": _site, "deploy": _deploy, "subdomain": _subdomain, "feedback": _feedback,
}
