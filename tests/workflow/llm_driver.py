"""Runs a todo build with the LLM agent and the scripted model, in a process of its own.

    python llm_driver.py DB API RUN_ID COUNTER [--mistakes]

The test kills it with APPWRIGHT_FAULT (see `appwright.workflow.faults`) and resumes
the run in its own process; every model call is appended to COUNTER, so that the
calls of both processes can be counted. APPWRIGHT_WALLET names the wallet file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from llm_script import ScriptedModel, scripted_agent, todo_script

from appwright.memory import MemoryStore
from appwright.workflow.runner import Runner, RunSettings


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("db", "api", "run_id", "counter"):
        parser.add_argument(name)
    parser.add_argument("--mistakes", action="store_true")
    args = parser.parse_args()
    model = ScriptedModel(script=todo_script(mistakes=args.mistakes), counter=Path(args.counter))
    with MemoryStore(Path(args.db)) as store:
        runner = Runner(store=store, say=print, make_agent=lambda settings: scripted_agent(model))
        settings = RunSettings(api=args.api, agent="llm", model="fake:scripted", blueprint="todo", yes=True)
        run = runner.create(settings, run_id=args.run_id)
        outcome = runner.run(run.run_id)
        print(f"run {run.run_id}: {outcome.run.status}")


if __name__ == "__main__":
    main()
