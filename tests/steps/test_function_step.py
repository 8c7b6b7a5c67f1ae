"""The deploy step's functions: `deploy_function` and the verify of `functions`, on the sandbox.

The action deploys a planned function by name with the project's service key, after the
same gate as a site (the real service key, by value or by name, never leaves in code).
The verify asks the backend: each planned function is deployed at the URL handed in, and
answers a GET made with the anon key without a 5xx.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from stepkit import SandboxBackend, backend, ctx, facts  # noqa: F401 (fixtures)

from appwright.steps import DEPLOY, ActionContext, ActionFailed, VerifyFailed
from appwright.steps.deploy import DeployOutput
from appwright.steps.functions import DeployFunctionArgs, DeployedFunction, verify_functions

pytestmark = pytest.mark.asyncio(loop_scope="session")

HELLO = "export default async (req) => Response.json({ hello: new URL(req.url).pathname })"
THROWS = "export default async () => { throw new Error('boom'); }"


def planned(ctx: ActionContext, *functions: dict[str, Any]) -> ActionContext:
    """`ctx` whose memory holds this function_plan."""
    return dataclasses.replace(ctx, facts={**ctx.facts, "function_plan": list(functions)})


async def deploy(ctx: ActionContext, name: str) -> dict[str, Any]:
    return await DEPLOY.action("deploy_function").run(ctx, DeployFunctionArgs(name=name))


async def live_names(ctx: ActionContext, backend: SandboxBackend) -> list[str]:
    listed = await backend.run402.functions.list(ctx.facts["project_id"], ctx.facts["service_key"])
    return [f.name for f in listed.functions]


async def test_deploy_then_verify(ctx: ActionContext, backend: SandboxBackend) -> None:
    ctx = planned(ctx, {"name": "hello", "code": HELLO, "config": {"timeout_s": 5}})
    first = await deploy(ctx, "hello")
    assert first["name"] == "hello" and first["url"] == f"{backend.api}/functions/v1/hello"
    again = await deploy(ctx, "hello")  # an upsert: a resent call replaces it with itself
    assert again["url"] == first["url"] and again["created"] is False
    await verify_functions(ctx, [DeployedFunction(name="hello", url=first["url"])])

    with pytest.raises(VerifyFailed, match="is not deployed at"):
        await verify_functions(ctx, [DeployedFunction(name="hello", url="http://elsewhere/functions/v1/hello")])
    with pytest.raises(VerifyFailed, match="each planned function once"):
        await verify_functions(ctx, [])


async def test_a_function_that_throws_fails_the_verify(ctx: ActionContext) -> None:
    ctx = planned(ctx, {"name": "broken", "code": THROWS})
    deployed = await deploy(ctx, "broken")
    with pytest.raises(VerifyFailed, match="function broken does not answer"):
        await verify_functions(ctx, [DeployedFunction(name="broken", url=deployed["url"])])


@pytest.mark.parametrize("leak", ["value", "name"])
async def test_code_with_the_service_key_is_never_sent(ctx: ActionContext, backend: SandboxBackend,
                                                       leak: str) -> None:
    key = ctx.facts["service_key"] if leak == "value" else "process.env.SERVICE_ROLE_KEY"
    ctx = planned(ctx, {"name": "leaky", "code": f"const k = {key!r};\n{HELLO}"})
    with pytest.raises(ActionFailed, match="nothing was sent.*refers to the service key") as caught:
        await deploy(ctx, "leaky")
    assert ctx.facts["service_key"] not in str(caught.value)
    assert await live_names(ctx, backend) == []


async def test_only_planned_functions_are_deployed(ctx: ActionContext, backend: SandboxBackend) -> None:
    with pytest.raises(ActionFailed, match=r"no function 'ghost' in function_plan \(planned: none\)"):
        await deploy(ctx, "ghost")
    assert await live_names(ctx, backend) == []


async def test_the_output_defaults_to_no_functions() -> None:
    output = DeployOutput(deployment_id="dpl_1", site_url="http://x/")
    assert output.functions == [] and output.model_dump()["functions"] == []
