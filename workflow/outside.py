"""The outside agent: a step completed by an agent in another process (MCP, shell verbs).

Claude Code, Cursor or a shell script drive a run one verb at a time: they read the
current step, call its actions, and hand in its output. Between verbs nothing runs:
the graph stops at the step with the run `acting`, and a submitted output takes the
run on through the engine, which validates, verifies and commits it like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from appwright.memory import StepId
from appwright.steps import Step

from .engine import RunPaused
from .session import StepSession

__all__ = ["AwaitingAgent", "OutsideAgent"]


class AwaitingAgent(RunPaused):
    """The step waits for the outside agent's actions and output."""

    status = "acting"

    def __init__(self, instance: StepId, refusal: str | None = None) -> None:
        self.instance = instance
        """The step waiting."""
        self.refusal = refusal
        """Why the output just handed in was refused, if one was."""
        said = f"; the output was refused: {refusal}" if refusal else ""
        super().__init__(f"step {instance} waits for the agent's actions and output{said}")


@dataclass(kw_only=True)
class OutsideAgent:
    """Hands each step to an agent outside; completes it with the output it submitted."""

    submitted: dict[StepId, dict[str, Any]] = field(default_factory=dict)
    """Outputs handed in, by step instance, for the engine to check and commit."""
    refusal: str | None = None
    """Why the last output handed in was refused, if it was."""

    async def complete(self, session: StepSession) -> None:
        """Submit the output handed in for this step, or pause the run until there is one."""
        output = self.submitted.pop(session.instance, None)
        if output is None:
            raise AwaitingAgent(session.instance)
        verdict = await session.submit(output)
        if not verdict.ok:
            self.refusal = verdict.error
            raise AwaitingAgent(session.instance, refusal=verdict.error)

    def answer(self, step: Step, question: str) -> str | None:
        """Questions go to the user: the outside agent never answers for them."""
        return None
