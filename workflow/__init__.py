"""appwright.workflow: the engine that leads an agent through the nine steps.

`runner.Runner` starts, resumes and answers runs; `engine.Engine` runs one step with
its guarantees; `session.StepSession` is an agent's door to a step; `graph` builds the
LangGraph route; `blueprint_agent.BlueprintAgent` completes steps from a blueprint;
`cli` is the `appwright` command. Modules are imported where used, to keep the CLI fast.
"""
