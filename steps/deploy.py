"""Step 7: Deploy the Site — upload it (x402, $0.05), deploy its functions, check both are live."""

from __future__ import annotations

import base64
from typing import Any

from pydantic import BaseModel, Field

from appwright.memory import MemoryDirective, StepId

from .base import Action, ActionContext, ActionFailed, Step, VerifyFailed
from .calls import as_dict
from .functions import DEPLOY_FUNCTION, DeployedFunction, verify_functions
from .sitecheck import SiteRejected, check_site_files, fill_placeholders

__all__ = ["DEPLOY", "DeployOutput"]


class NoArgs(BaseModel):
    """The files come from memory (site_files)."""


async def deploy_site(ctx: ActionContext, args: NoArgs) -> dict[str, Any]:
    files = ctx.facts["site_files"]
    try:
        # The last gate before the files leave: this step holds the real service key.
        check_site_files(files, service_key=ctx.facts["service_key"])
    except SiteRejected as rejected:
        raise ActionFailed(f"not deployed, nothing was sent or paid: {rejected}; the site step must fix it") from None
    filled = fill_placeholders(files, api_url=ctx.backend.api, anon_key=ctx.facts["anon_key"])
    client = await ctx.backend.client()
    deployment = await client.deploy_site(
        ctx.facts["app"]["name"], ctx.facts["project_id"], _by_path(filled), idempotency_key=ctx.idempotency_key,
    )
    return as_dict(deployment)


def _by_path(files: list[dict[str, Any]]) -> dict[str, str | bytes]:
    return {
        f["file"]: base64.b64decode(f["data"]) if f.get("encoding") == "base64" else f["data"] for f in files
    }


class DeployOutput(BaseModel):
    """The deployment and the URL it is served at; the functions and theirs."""

    deployment_id: str
    site_url: str
    functions: list[DeployedFunction] = Field(
        default_factory=list, description="each function of function_plan, deployed: name and url (none by default)",
    )


async def _verify(ctx: ActionContext, output: DeployOutput) -> None:
    status, body = await ctx.backend.get(output.site_url)
    if status != 200:
        raise VerifyFailed(f"{output.site_url} answers {status}, not 200")
    if ctx.facts["anon_key"] not in body and "app.js" not in body:
        raise VerifyFailed(f"{output.site_url} does not carry the anon key or load the app's script")
    await verify_functions(ctx, output.functions)


DEPLOY = Step(
    number=7,
    id=StepId("deploy"),
    title="Deploy the Site",
    phase="deploy",
    # service_key to refuse a site that carries it (never sent with the files) and to deploy functions.
    context=("app", "project_id", "anon_key", "service_key", "site_files"),
    # Absent from runs planned before functions existed: none to deploy then. Kept (not
    # discarded) so that a feedback loop's second deploy ships the functions again.
    optional_context=("function_plan",),
    actions=(
        Action(name="deploy_site", description="Deploy site_files (x402, $0.05).", args=NoArgs,
               run=deploy_site, paid=True,
               summary=lambda r: f"deployment {r.get('deployment_id')} at {r.get('url')}"),
        DEPLOY_FUNCTION,
    ),
    output=DeployOutput,
    verify=_verify,
    tell_user="Your app is live at {site_url}",
    memory=MemoryDirective(
        carry_forward={"app", "project_id"},
        store={"deployment_id", "site_url", "functions"},
        discard={"site_files"},
    ),
)
