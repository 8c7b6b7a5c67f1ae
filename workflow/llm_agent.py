"""The LLM agent: any langchain-core chat model with tool calling completes the steps.

For each step the model gets the system prompt, the step's card and context, and the
step's tools; it calls actions and hands in the output with `complete_step`. A refused
call or output goes back to it as a tool result that says exactly what is wrong.

The conversation is journaled through the session, so a resumed step continues it
instead of starting over: each model turn is a `once` record (the answer is replayed,
the model is not asked again), each action a journaled call (a finished one is not sent
again), each verdict on `complete_step` a `once` record. Every record takes the next
call number, so the replayed conversation lines up with the journal call for call.

A step has `max_turns` live model turns per attempt; running out stops the run,
resumable, and the resumed step gets as many again (replayed turns do not count).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from langchain_core.messages import (
    AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage, message_to_dict, messages_from_dict,
)

from appwright.memory import EventKind
from appwright.platforms.run402 import (
    ApiError, BudgetExceeded, PaymentError, PaymentRefused, SqlRefused, WalletRequired,
)
from appwright.steps import ActionFailed, Step

from . import faults
from .engine import RunPaused
from .llm_tools import ASK_USER, COMPLETE_STEP, SYSTEM_PROMPT, Secrets, opening, plan_problem, tool_specs, with_title
from .session import StepSession

__all__ = ["BudgetSpent", "LlmAgent", "TurnsExhausted", "llm_agent"]

# Errors with a definite answer (refused before sending, or refused by the backend): the model
# can act on them. A lost answer or an unreachable API is not one of them: it fails the run,
# and the resume resends the call with the same Idempotency-Key.
_TOOL_ERRORS: Final = (ActionFailed, ApiError, SqlRefused, WalletRequired, PaymentRefused, PaymentError)

_FAILED: Final = "tool_failed"
"""The `once` record of a failed call whose error the model was shown."""

_NUDGE: Final = "Use the tools: call the step's actions, then hand in the output with complete_step."

_YES: Final = "yes"


class TurnsExhausted(RunPaused):
    """A step used its model turns without an accepted output; resuming gives it as many again."""

    status = "stopped"


class BudgetSpent(RunPaused):
    """A payment would go over the run's budget; nothing was signed."""

    status = "stopped"


@dataclass(kw_only=True)
class LlmAgent:
    """Completes steps with a chat model that calls tools."""

    model: Any
    """A langchain `BaseChatModel` with tool calling (`bind_tools`)."""
    max_turns: int = 24
    """Live model turns one step may take per attempt."""
    answers: dict[str, str] = field(default_factory=dict)
    """Answers to the steps' questions given up front (a blueprint's), by step id."""
    yes: bool = False
    """Accept confirmations without asking the user."""

    async def complete(self, session: StepSession) -> None:
        """Converse with the model until it hands in an accepted output (or the turns run out)."""
        bound = self.model.bind_tools(tool_specs(session.step))
        await Conversation(session=session, model=bound, max_turns=self.max_turns).run()

    def answer(self, step: Step, question: str) -> str | None:
        """The answer given up front for the step, else 'yes' under --yes, else None (ask the user)."""
        if step.id in self.answers:
            return self.answers[step.id]
        return _YES if self.yes and step.id != "feedback" else None


@dataclass(kw_only=True)
class Conversation:
    """One attempt at one step: the messages so far, replayed from the journal, then live."""

    session: StepSession
    """The step's session."""
    model: Any
    """The chat model with the step's tools bound."""
    max_turns: int
    """Live turns this attempt may take."""
    messages: list[BaseMessage] = field(default_factory=list)
    live: int = 0
    """Model turns made (not replayed) in this attempt."""
    secrets: Secrets = field(init=False)

    def __post_init__(self) -> None:
        self.secrets = Secrets(keys=self.session.step.secret_keys)
        self.secrets.remember(self.session.context)

    async def run(self) -> None:
        """Turn after turn until complete_step is accepted."""
        session = self.session
        self.messages = [
            SystemMessage(SYSTEM_PROMPT), HumanMessage(opening(session.step, session.card, session.context)),
        ]
        turn = 0
        while True:
            turn += 1
            reply = await self._model_turn(turn)
            self.messages.append(reply)
            if not reply.tool_calls:
                self.messages.append(HumanMessage(_NUDGE))
                continue
            for index, call in enumerate(reply.tool_calls):
                text, done = await self._tool(turn, index, call["name"], call.get("args") or {})
                self.messages.append(ToolMessage(content=text, tool_call_id=call.get("id") or f"{turn}-{index}"))
                if done:
                    return

    async def _model_turn(self, turn: int) -> AIMessage:
        async def ask_model() -> dict[str, Any]:
            if self.live >= self.max_turns:  # raised in here: only a live turn counts
                raise TurnsExhausted(
                    f"step {self.session.instance} used its {self.max_turns} model turns (--max-turns) without an "
                    f"accepted output; `appwright resume {self.session.run_id}` gives it {self.max_turns} more"
                )
            self.live += 1
            reply = await self.model.ainvoke(self.messages)
            return json.loads(json.dumps(message_to_dict(reply), default=str))

        record, replayed = await self.session.once("model", {"turn": turn}, ask_model)
        (reply,) = messages_from_dict([record])
        assert isinstance(reply, AIMessage), f"the model answered a {type(reply).__name__}"
        if not replayed:
            self._log_turn(turn, reply)
            faults.point(f"after_model:{self.session.instance}:{turn}")
        return reply

    def _log_turn(self, turn: int, reply: AIMessage) -> None:
        text = reply.text
        data = {"turn": turn, "text": text[:300] + (" …" if len(text) > 300 else ""),
                "tool_calls": [c["name"] for c in reply.tool_calls]}
        session = self.session
        session.store.log_event(session.run_id, session.instance, EventKind.MODEL_TURN, data)

    async def _tool(self, turn: int, index: int, name: str, args: dict[str, Any]) -> tuple[str, bool]:
        step = self.session.step
        if name == COMPLETE_STEP:
            return await self._complete(turn, index, args)
        if name == ASK_USER and step.asks_user:
            answer = self.session.ask(str(args.get("question") or "?"))
            return f"The user answered: {answer}", False
        if name not in {a.name for a in step.actions}:
            tools = [a.name for a in step.actions] + [COMPLETE_STEP] + ([ASK_USER] if step.asks_user else [])
            return f"there is no tool {name!r} in step {step.id}; the tools are: {', '.join(tools)}", False
        return await self._act(name, args), False

    async def _act(self, name: str, args: dict[str, Any]) -> str:
        # A call that failed and whose error the model was shown is not resent on a resume:
        # the model went on from that error (it may have fixed things since, and resending
        # could then succeed behind its back). The error it saw is replayed instead.
        seen = self.session.recorded_failure(name, args, _FAILED)
        if seen is not None:
            return str(seen.get("error"))
        try:
            result = await self.session.call(name, args)
        except BudgetExceeded as spent:  # the model cannot fix that: the user raises the budget
            raise BudgetSpent(f"step {self.session.instance}: {spent}") from None
        except _TOOL_ERRORS as error:
            text = f"{name} failed: {error}"
            await self.session.once(_FAILED, {"tool": name}, _constant({"error": text}))
            return text
        return json.dumps(self.secrets.hide(result), default=str)

    async def _complete(self, turn: int, index: int, args: dict[str, Any]) -> tuple[str, bool]:
        raw = args.get("output", args) if isinstance(args, dict) else args
        output = self.secrets.fill(raw)

        async def judge() -> dict[str, Any]:
            return await self._verdict(output)

        # The verdict is kept: a replayed refusal is the one the model saw, even if the
        # backend would now accept that output (the model went on to fix it its own way).
        verdict, replayed = await self.session.once(COMPLETE_STEP, {"turn": turn, "call": index}, judge)
        if verdict.get("ok") and replayed:  # crashed before the engine committed: hand it in again
            verdict = await self._verdict(output)
        if verdict.get("ok"):
            return "accepted", True
        return f"complete_step refused: {verdict.get('error')}. Fix the output and call complete_step again.", False

    async def _verdict(self, output: Any) -> dict[str, Any]:
        session = self.session
        if session.step.id == "plan":  # a plan must be as valid as a bundled blueprint
            problem = plan_problem(output)
            if problem:
                session.store.log_event(session.run_id, session.instance, EventKind.VALIDATION_FAILED,
                                        {"error": problem})
                return {"ok": False, "error": problem}
            output = with_title(output)
        submitted = await session.submit(output if isinstance(output, dict) else {"output": output})
        return {"ok": submitted.ok, "error": submitted.error}


def _constant(value: dict[str, Any]) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def produce() -> dict[str, Any]:
        return value

    return produce


def llm_agent(settings: Any) -> LlmAgent:
    """The LLM agent a run's settings name (`RunSettings` with agent "llm")."""
    from .blueprint import load_blueprint
    from .models import chat_model

    answers: dict[str, str] = {}
    if settings.blueprint:  # a blueprint's answers hold for the model's questions too
        bp = load_blueprint(settings.blueprint)
        answers = {k: v for k, v in bp.answers.items() if "." not in k}
        answers.setdefault("feedback", bp.feedback)
    return LlmAgent(model=chat_model(settings.model), max_turns=settings.max_turns, answers=answers,
                    yes=settings.yes)
