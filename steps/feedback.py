"""Step 9: Feedback — ask what the user thinks, tell the platform, maybe go again."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from appwright.memory import MemoryDirective, StepId

from .base import Action, ActionContext, Step
from .calls import as_dict

__all__ = ["FEEDBACK", "FeedbackOutput"]


class MessageArgs(BaseModel):
    """A message to the platform's developers."""

    message: str = Field(min_length=1, max_length=4000)


async def send_feedback(ctx: ActionContext, args: MessageArgs) -> dict[str, Any]:
    client = await ctx.backend.client()
    return as_dict(await client.send_message(args.message, idempotency_key=ctx.idempotency_key))


class FeedbackOutput(BaseModel):
    """What the user thought, and what (if anything) to change."""

    feedback: str = Field(min_length=1)
    change_request: str | None = None
    feedback_sent: bool


async def _verify(ctx: ActionContext, output: FeedbackOutput) -> None:
    return None  # the message's receipt is in the payments ledger; nothing to read back


FEEDBACK = Step(
    number=9,
    id=StepId("feedback"),
    title="Feedback",
    phase="iterate",
    context=("app", "app_url"),
    actions=(
        Action(name="send_feedback", description="Send the user's feedback to the platform (x402, $0.01).",
               args=MessageArgs, run=send_feedback, paid=True, summary=lambda r: "sent"),
    ),
    output=FeedbackOutput,
    verify=_verify,
    tell_user="Thanks! I've passed your thoughts on to the platform's developers.",
    memory=MemoryDirective(
        carry_forward={"app", "app_url"},
        store={"feedback", "change_request", "feedback_sent"},
    ),
    asks_user=True,
)
