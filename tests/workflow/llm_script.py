"""A scripted chat model for the LLM agent's tests: langchain-core's fake model, answering by script.

`ScriptedModel` is a `GenericFakeChatModel` whose answer is picked by the step (read from
the card's title) and by the number of AI messages already in its input: the n-th turn of
a step always gets the n-th scripted answer, so a model call made again after a resume
shows up as the same (step, turn) twice in `calls` (and in the counter file, which counts
across processes). Each scripted turn is a function of the conversation so far, so it can
read what the tools answered, as a model would.

`todo_script()` builds the bundled todo app in every step; with `mistakes=True` the model
first hands in an invalid plan, sends SQL the gate refuses, and claims a table that does
not exist, then fixes each after reading the error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from appwright.steps import STEPS
from appwright.workflow.blueprint import load_blueprint
from appwright.workflow.blueprint_agent import plan_from_blueprint
from appwright.workflow.llm_agent import LlmAgent

Turn = Callable[[list[BaseMessage]], AIMessage]
"""One scripted answer: the conversation so far → the model's message."""

_TITLES = {f"# Step {s.number}: {s.title}": s.id for s in STEPS}


class ScriptedModel(GenericFakeChatModel):
    """Answers each step's n-th turn with the script's n-th answer; records every call."""

    messages: Iterator[AIMessage | str] = Field(default_factory=lambda: iter(()))
    script: dict[str, list[Turn]]
    calls: list[tuple[str, int]] = Field(default_factory=list)
    """(step, turn) of every call, in order."""
    seen: list[list[BaseMessage]] = Field(default_factory=list)
    """The input of every call."""
    counter: Path | None = None
    """A file that gets a line per call, "step turn" (counts across processes)."""
    tools: list[Any] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:  # type: ignore[override]
        self.tools = list(tools)
        return self

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        step = step_of(messages)
        turn = sum(isinstance(m, AIMessage) for m in messages)
        self.calls.append((step, turn))
        self.seen.append(list(messages))
        if self.counter is not None:
            with self.counter.open("a") as out:
                out.write(f"{step} {turn}\n")
        turns = self.script[step]
        assert turn < len(turns), f"step {step}: the model was asked for turn {turn}, the script has {len(turns)}"
        return ChatResult(generations=[ChatGeneration(message=turns[turn](messages))])


def step_of(messages: list[BaseMessage]) -> str:
    """The step a conversation is about, from its card's title line."""
    opening = next(m for m in messages if isinstance(m, HumanMessage))
    return _TITLES[str(opening.content).splitlines()[0].strip()]


def context_of(messages: list[BaseMessage]) -> dict[str, Any]:
    """The context the agent gave the model, as JSON."""
    opening = next(m for m in messages if isinstance(m, HumanMessage))
    return dict(json.loads(str(opening.content).split("## Context (JSON)", 1)[1]))


def result_of(messages: list[BaseMessage], tool: str) -> Any:
    """What the last call of `tool` answered (JSON if it is JSON, else the text)."""
    names = {c["id"]: c["name"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
    for message in reversed(messages):
        if isinstance(message, ToolMessage) and names.get(message.tool_call_id) == tool:
            try:
                return json.loads(str(message.content))
            except json.JSONDecodeError:
                return str(message.content)
    raise AssertionError(f"no result of {tool} in the conversation")


def tool_texts(messages: list[BaseMessage]) -> list[str]:
    """Every tool result the model was shown."""
    return [str(m.content) for m in messages if isinstance(m, ToolMessage)]


def say(*calls: tuple[str, dict[str, Any]], text: str = "") -> Turn:
    """A turn that calls these tools, whatever came before."""
    return lambda messages: reply(messages, *calls, text=text)


def reply(messages: list[BaseMessage], *calls: tuple[str, dict[str, Any]], text: str = "") -> AIMessage:
    turn = sum(isinstance(m, AIMessage) for m in messages)
    step = step_of(messages)
    tool_calls = [{"name": name, "args": args, "id": f"{step}-{turn}-{i}"} for i, (name, args) in enumerate(calls)]
    return AIMessage(content=text, tool_calls=tool_calls)


def complete(output: Callable[[list[BaseMessage]], dict[str, Any]]) -> Turn:
    return lambda messages: reply(messages, ("complete_step", {"output": output(messages)}))


BAD_SQL = "CREATE EXTENSION pgcrypto;"
"""SQL the gate refuses before it is sent."""


def todo_script(*, mistakes: bool = False) -> dict[str, list[Turn]]:
    """The todo app, built by tool calls, step by step."""
    bp = load_blueprint("todo")
    plan = plan_from_blueprint(bp)
    bad_plan = {**plan, "table_plan": [{**plan["table_plan"][0], "sql": plan["table_plan"][0]["sql"] + " SELECT 1;"}]}

    def tables(messages: list[BaseMessage]) -> dict[str, Any]:
        schema = result_of(messages, "get_schema")
        return {"tables_created": [{"name": t["name"], "columns": [c["name"] for c in t["columns"]]}
                                   for t in schema["tables"]]}

    def project(messages: list[BaseMessage]) -> dict[str, Any]:
        created = result_of(messages, "create_project")
        keys = ("project_id", "anon_key", "service_key", "schema_slot", "lease_expires_at")
        return {**{k: created[k] for k in keys}, "wallet_address": result_of(messages, "ensure_wallet")["address"]}

    def claim(messages: list[BaseMessage]) -> AIMessage:
        # The session sandbox is shared: make the name this project's own.
        ctx = context_of(messages)
        name = f"{ctx['app']['subdomain']}-{ctx['project_id'].removeprefix('prj_')[:6].lower()}"
        return reply(messages, ("claim_subdomain", {"name": name}))

    def answer(messages: list[BaseMessage]) -> str:
        return result_of(messages, "ask_user").removeprefix("The user answered: ")

    sql = [("run_sql", {"sql": t["sql"]}) for t in plan["table_plan"]]
    return {
        "plan": [
            say(("ask_user", {"question": f"Build {bp.title} with a todos table? (yes/no)"})),
            *([complete(lambda m: bad_plan)] if mistakes else []),
            complete(lambda m: plan),
        ],
        "provision": [
            say(("quote", {}), ("ensure_wallet", {}), ("wallet_balance", {}), text="Checking prices and wallet."),
            say(("fund_wallet", {})),
            say(("create_project", {})),
            complete(project),
        ],
        "create_tables": [
            *([say(("run_sql", {"sql": BAD_SQL}))] if mistakes else []),
            say(*sql),
            say(("get_schema", {})),
            *([complete(lambda m: {"tables_created": [{"name": "todoz", "columns": ["id"]}]})] if mistakes else []),
            complete(tables),
        ],
        "seed": [
            say(*[("insert_rows", {"table": s["table"], "rows": s["rows"]}) for s in plan["seed_plan"]]),
            complete(lambda m: {"seeded": [{"table": s["table"], "rows": len(s["rows"])} for s in plan["seed_plan"]]}),
        ],
        "rls": [
            say(*[("apply_rls", {"template": r["template"], "tables": [{"table": r["table"]}]})
                  for r in plan["rls_plan"]]),
            complete(lambda m: {"rls_applied": plan["rls_plan"]}),
        ],
        "site": [
            lambda m: reply(m, ("write_site", {"files": context_of(m)["site_plan"]})),
            complete(lambda m: {"site_files": context_of(m)["site_plan"]}),
        ],
        "deploy": [
            say(("deploy_site", {})),
            complete(lambda m: {"deployment_id": result_of(m, "deploy_site")["deployment_id"],
                                "site_url": result_of(m, "deploy_site")["url"]}),
        ],
        "subdomain": [
            claim,
            complete(lambda m: {"subdomain": result_of(m, "claim_subdomain")["name"],
                                "app_url": result_of(m, "claim_subdomain")["url"]}),
        ],
        "feedback": [
            say(("ask_user", {"question": "Your app is live. What do you think?"})),
            lambda m: reply(m, ("send_feedback", {"message": f"{bp.title}: {answer(m)}"})),
            complete(lambda m: {"feedback": answer(m), "change_request": None, "feedback_sent": True}),
        ],
    }


def turns_of(script: dict[str, list[Turn]]) -> int:
    """How many model turns the whole script takes."""
    return sum(len(turns) for turns in script.values())


def scripted_agent(model: ScriptedModel, *, max_turns: int = 24) -> LlmAgent:
    """The LLM agent with the todo blueprint's answers, driven by `model`."""
    bp = load_blueprint("todo")
    return LlmAgent(model=model, max_turns=max_turns, answers={"plan": "yes", "feedback": bp.answers["feedback"]},
                    yes=True)
