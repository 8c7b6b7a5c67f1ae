"""Feedback that asks for changes sends the build back to the site step, and only there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from appwright.memory import EventKind, MemoryStore
from appwright.workflow.blueprint import load_blueprint
from appwright.workflow.blueprint_agent import BlueprintAgent
from appwright.workflow.runner import Runner, RunSettings
from appwright.workflow.session import StepSession


@dataclass(kw_only=True)
class ChangeOnce(BlueprintAgent):
    """The blueprint agent, but the first feedback asks for a new heading."""

    asked: int = 0

    async def complete(self, session: StepSession) -> None:
        if session.step.id == "site" and "change_request" in session.context:
            await self._site_with_change(session)
            return
        if session.step.id == "feedback" and self.asked == 0:
            self.asked += 1
            await session.call("send_feedback", {"message": "Please call it Our Todos"})
            verdict = await session.submit(
                {"feedback": "Please call it Our Todos", "change_request": "title: Our Todos", "feedback_sent": True}
            )
            assert verdict.ok, verdict.error
            return
        await super().complete(session)

    async def _site_with_change(self, session: StepSession) -> None:
        files = [dict(f) for f in session.context["site_plan"]]
        for entry in files:
            if entry["file"] == "index.html":
                entry["data"] = entry["data"].replace("<body", "<body data-title=\"Our Todos\"", 1)
        await session.call("write_site", {"files": files})
        verdict = await session.submit({"site_files": files})
        assert verdict.ok, verdict.error


def test_a_change_request_loops_back_to_site_and_redeploys(api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPWRIGHT_WALLET", str(tmp_path / "wallet.json"))
    store = MemoryStore(tmp_path / "appwright.db")
    agent = ChangeOnce(blueprint=load_blueprint("todo"), yes=True)
    told: list[str] = []
    runner = Runner(store=store, say=told.append, make_agent=lambda settings: agent)
    run = runner.create(RunSettings(blueprint="todo", api=api, yes=True))

    outcome = runner.run(run.run_id)

    assert outcome.run.status == "done"
    steps = [s.step_id for s in store.step_summaries(run.run_id)]
    assert steps == [
        "plan", "provision", "create_tables", "seed", "rls", "site", "deploy", "subdomain", "feedback",
        "site~2", "deploy~2", "subdomain~2", "feedback~2",
    ]
    facts = store.all_facts(run.run_id, redact=False)
    assert facts["change_request"] is None  # the second feedback was happy
    # Two deployments and two messages were paid; one project.
    amounts = sorted(p.amount_micros for p in store.payments(run.run_id))
    assert amounts == [10_000, 10_000, 50_000, 50_000, 100_000]
    # The subdomain now serves the changed site.
    port = httpx.URL(api).port
    host = f"{facts['subdomain']}.localhost:{port}"
    page = httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": host})
    assert page.status_code == 200 and 'data-title="Our Todos"' in page.text
    finished = [e for e in store.events(run.run_id, "site~2") if e.kind == EventKind.STEP_FINISHED]
    assert len(finished) == 1
