"""Step 8: Claim a Subdomain — a memorable name for the app."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, field_validator

from appwright.memory import MemoryDirective, StepId

from .base import Action, ActionContext, Step, VerifyFailed
from .calls import as_dict

__all__ = ["SUBDOMAIN", "SubdomainOutput"]

NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


class ClaimArgs(BaseModel):
    """The name to claim for the deployment."""

    name: str = Field(description="3-63 chars: lowercase, digits, hyphens; no '--'")

    @field_validator("name")
    @classmethod
    def _valid(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("3-63 chars of lowercase letters, digits and hyphens, starting and ending "
                             "with a letter or digit, without '--'")
        return value


class LookupArgs(BaseModel):
    """A name to look up."""

    name: str


async def claim_subdomain(ctx: ActionContext, args: ClaimArgs) -> dict[str, Any]:
    client = await ctx.backend.client()
    claimed = await client.subdomains.claim(
        args.name, ctx.facts["deployment_id"], ctx.facts["service_key"], idempotency_key=ctx.idempotency_key,
    )
    return as_dict(claimed)


async def lookup_subdomain(ctx: ActionContext, args: LookupArgs) -> dict[str, Any]:
    client = await ctx.backend.client()
    return as_dict(await client.subdomains.lookup(args.name))


class SubdomainOutput(BaseModel):
    """The claimed name and the app's URL."""

    subdomain: str
    app_url: str


async def _verify(ctx: ActionContext, output: SubdomainOutput) -> None:
    client = await ctx.backend.client()
    found = as_dict(await client.subdomains.lookup(output.subdomain))
    if found.get("deployment_id") != ctx.facts["deployment_id"]:
        raise VerifyFailed(f"{output.subdomain} points at {found.get('deployment_id')}, not this deployment")
    status, _ = await ctx.backend.get(output.app_url)
    if status != 200:
        raise VerifyFailed(f"{output.app_url} answers {status}, not 200")


SUBDOMAIN = Step(
    number=8,
    id=StepId("subdomain"),
    title="Claim a Subdomain",
    phase="deploy",
    context=("app", "project_id", "service_key", "deployment_id"),
    actions=(
        Action(name="claim_subdomain", description="Claim (or re-point) a subdomain; free, idempotent.",
               args=ClaimArgs, run=claim_subdomain, summary=lambda r: f"{r.get('name')} → {r.get('url')}"),
        Action(name="lookup_subdomain", description="Who holds a subdomain.", args=LookupArgs,
               run=lookup_subdomain, summary=lambda r: f"{r.get('name')} → {r.get('deployment_id')}"),
    ),
    output=SubdomainOutput,
    verify=_verify,
    tell_user="Your app has its own address: {app_url}",
    memory=MemoryDirective(
        carry_forward={"app", "project_id", "deployment_id"},
        store={"subdomain", "app_url"},
    ),
)
