"""A run's step log as JSON: what `appwright log --json` prints and the desk's `log` returns."""

from __future__ import annotations

from typing import Any

from appwright.memory import EventKind, MemoryStore, Run

__all__ = ["run_log"]


def run_log(store: MemoryStore, run: Run) -> dict[str, Any]:
    """One entry per step: its status, duration, cost, what the user was told, and its output."""
    steps = []
    for summary in store.step_summaries(run.run_id):
        finished = [e for e in store.events(run.run_id, summary.step_id) if e.kind == EventKind.STEP_FINISHED]
        steps.append({
            "step": summary.step_id, "status": str(summary.status), "duration_ms": summary.duration_ms,
            "cost_usd_micros": summary.cost_micros, "message": summary.user_message,
            "output": finished[-1].data.get("output") if finished else None,
        })
    return {"run_id": run.run_id, "status": str(run.status), "steps": steps}
