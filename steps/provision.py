"""Step 2: Provision the Backend — a wallet that can pay, then a paid project."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from appwright.memory import MemoryDirective, StepId

from .base import Action, ActionContext, Step, VerifyFailed
from .calls import as_dict

__all__ = ["PROVISION", "ProvisionOutput"]


class NoArgs(BaseModel):
    """This action takes no arguments."""


class CreateProjectArgs(BaseModel):
    """Which tier to create; the run's tier when omitted."""

    tier: str | None = Field(default=None, description="prototype, hobby or team")


async def quote(ctx: ActionContext, args: NoArgs) -> dict[str, Any]:
    client = await ctx.backend.client()
    return as_dict(await client.quote())


async def ensure_wallet(ctx: ActionContext, args: NoArgs) -> dict[str, Any]:
    from appwright.platforms.wallet import ensure_wallet as ensure

    wallet, created = ensure()
    return {"address": wallet.address, "created": created}


async def wallet_balance(ctx: ActionContext, args: NoArgs) -> dict[str, Any]:
    client = await ctx.backend.client()
    account = await client.billing.account(client.address)
    return {"address": client.address, "available_usd_micros": account.available_usd_micros}


async def fund_wallet(ctx: ActionContext, args: NoArgs) -> dict[str, Any]:
    client = await ctx.backend.client()
    return as_dict(await client.faucet(client.address, idempotency_key=ctx.idempotency_key))


async def create_project(ctx: ActionContext, args: CreateProjectArgs) -> dict[str, Any]:
    client = await ctx.backend.client()
    tier = args.tier or ctx.backend.tier
    created = await client.create_project(
        name=ctx.facts["app"]["name"], tier=tier, idempotency_key=ctx.idempotency_key,
    )
    return as_dict(created)


class ProvisionOutput(BaseModel):
    """The project the app lives in."""

    project_id: str
    anon_key: str
    service_key: str
    schema_slot: str
    lease_expires_at: str
    wallet_address: str


async def _verify(ctx: ActionContext, output: ProvisionOutput) -> None:
    client = await ctx.backend.client()
    schema = await client.schema(output.project_id, output.service_key)
    if as_dict(schema).get("schema") != output.schema_slot:
        raise VerifyFailed(f"project {output.project_id} is not in schema {output.schema_slot}")


PROVISION = Step(
    number=2,
    id=StepId("provision"),
    title="Provision the Backend",
    phase="implement",
    context=("app",),
    actions=(
        Action(name="quote", description="Prices and limits of every tier (free).", args=NoArgs,
               run=quote, summary=lambda r: "tiers: " + ", ".join(r.get("tiers", {}))),
        Action(name="ensure_wallet", description="Use the wallet file, creating one if there is none.",
               args=NoArgs, run=ensure_wallet),
        Action(name="wallet_balance", description="The wallet's available balance, in micro-USD.",
               args=NoArgs, run=wallet_balance),
        Action(name="fund_wallet", description="Ask the testnet faucet for 0.25 USDC (once per 24 h).",
               args=NoArgs, run=fund_wallet),
        Action(name="create_project", description="Create the project (x402; prototype costs $0.10).",
               args=CreateProjectArgs, run=create_project, paid=True,
               summary=lambda r: f"project {r.get('project_id')} in {r.get('schema_slot')}"),
    ),
    output=ProvisionOutput,
    verify=_verify,
    tell_user="Your app has a home: a private database (project {project_id}), paid from your wallet.",
    memory=MemoryDirective(
        carry_forward={"app"},
        store={"project_id", "anon_key", "service_key", "schema_slot", "lease_expires_at", "wallet_address"},
        secret={"anon_key", "service_key"},
    ),
    secret_fields=frozenset({"anon_key", "service_key"}),
)
