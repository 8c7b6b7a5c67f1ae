"""What the Run402 client's calls return: the base models, `Secret`, and the results of
projects, sites, subdomains and money (SQL, schema, REST and auth results are in
`run402_models_data`).

Every result is immutable and keyword-only. Fields the server adds that a model does
not name are ignored (the hosted service may send more), so a key it adds can never
turn up in a repr. Keys and tokens are `Secret`s, hidden from repr twice over: the
field is left out of the model's repr, and the value's own repr is `***`. They are
still plain strings to use: `headers={"apikey": created.anon_key}` works.

A call that may carry an Idempotency-Key says whether its answer was a replay of an
earlier call with that key (`replayed`); a paid call also returns its `PaymentReceipt`
(on a replay: the receipt of the original payment, since nothing new was charged).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from .x402pay import PaymentReceipt

__all__ = [
    "BillingAccount",
    "BillingHistory",
    "DeveloperMessage",
    "FaucetGrant",
    "LedgerEntry",
    "MessageSent",
    "Paid",
    "ProjectCreated",
    "ProjectDeleted",
    "ProjectRenewed",
    "Quote",
    "Result",
    "Secret",
    "SiteDeployed",
    "Subdomain",
    "SubdomainReleased",
    "TierPrice",
    "Written",
]


class Secret(str):
    """A key or token: an ordinary `str` whose repr is `***`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "***"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # Validated as a str, then wrapped; dumped as a plain str.
        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )


class Result(BaseModel):
    """Base of every result: frozen, keyword-only, unknown fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, use_attribute_docstrings=True)


class Written(Result):
    """The result of a write that may carry an Idempotency-Key."""

    replayed: bool = False
    """True when the server answered from an earlier call with the same key (nothing was redone)."""


class Paid(Written):
    """The result of a paid (x402) call."""

    receipt: PaymentReceipt | None = None
    """What was paid: payer, transaction, network, amount. For the caller's ledger."""


# --- projects -------------------------------------------------------------------------


class TierPrice(Result):
    """One tier of the price list."""

    price: str
    """The price in USD as the seed writes it, e.g. `0.10`."""
    price_usd_micros: int
    """The price in micro-USD (1 USD = 1,000,000)."""
    lease_days: int
    """How long a project of this tier stays active per payment."""
    storage_mb: int
    """Storage quota."""
    api_calls: int
    """API-call quota per lease."""
    functions: int
    """How many serverless functions a project may have."""


class Quote(Result):
    """The price list (`POST /v1/projects/quote`)."""

    tiers: dict[str, TierPrice]
    """Tier name (`prototype`, `hobby`, `team`) → its price and limits."""
    site_deployment_usd_micros: int
    """The price of a standalone site deployment."""


class ProjectCreated(Paid):
    """A new project, with the keys that reach it."""

    project_id: str
    """`prj_...`, the project's id in every later call."""
    name: str
    """The name it was created with."""
    tier: str
    """Its tier."""
    anon_key: Secret = Field(repr=False)
    """Read-only key (SELECT, signup): safe in a browser."""
    service_key: Secret = Field(repr=False)
    """Admin key (bypasses RLS): server side only."""
    schema_slot: str
    """The Postgres schema the project's tables live in, e.g. `p0001`."""
    lease_expires_at: datetime
    """When the lease ends (renew before)."""


class ProjectRenewed(Paid):
    """A renewed lease."""

    project_id: str
    """The project."""
    tier: str
    """Its tier (a renewal costs the tier's price)."""
    lease_expires_at: datetime
    """The new end of the lease."""


class ProjectDeleted(Result):
    """A deleted project."""

    project_id: str
    """The project."""
    status: str
    """`deleted`."""


# --- sites ----------------------------------------------------------------------------


class SiteDeployed(Paid):
    """A deployed static site."""

    deployment_id: str
    """`dpl_...`, what a subdomain points at."""
    name: str
    """The deployment's name."""
    project_id: str
    """The project it belongs to."""
    url: str
    """Where it is served."""
    path_url: str | None = None
    """Where the sandbox also serves it under its own host (`/sites/<id>/`)."""
    files: int | None = None
    """How many files it has."""
    bytes: int | None = None
    """Their total size."""


class Subdomain(Written):
    """A claimed subdomain and the deployment it serves."""

    name: str
    """The subdomain, e.g. `my-app`."""
    deployment_id: str
    """The deployment it points at."""
    project_id: str
    """The project that claimed it."""
    url: str
    """Where it is served, e.g. `https://my-app.run402.com`."""
    deployment_url: str | None = None
    """The deployment's own URL."""
    created_at: datetime | None = None
    """When it was first claimed."""
    updated_at: datetime | None = None
    """When it was last pointed somewhere."""
    created: bool = False
    """True when this claim created it (HTTP 201), False when it re-pointed or kept it."""


class SubdomainReleased(Result):
    """A released subdomain."""

    name: str
    """The subdomain."""
    status: str
    """`deleted`."""


# --- money ----------------------------------------------------------------------------


class MessageSent(Paid):
    """A message delivered to the platform's developers."""

    status: str
    """`sent`."""
    id: int
    """The message's id."""
    created_at: datetime
    """When it was received."""


class DeveloperMessage(Result):
    """A message as the sandbox's inbox lists it (`GET /v1/messages`, sandbox only)."""

    id: int
    """The message's id."""
    wallet: str
    """The wallet that paid for it."""
    message: str
    """Its text."""
    created_at: datetime
    """When it was received."""


class BillingAccount(Result):
    """A wallet's balance with the platform."""

    wallet: str
    """The wallet address (lower case)."""
    available_usd_micros: int
    """What it can still spend, in micro-USD."""
    available_usd: str | None = None
    """The same in USD, e.g. `0.25`."""
    total_credited_usd_micros: int | None = None
    """Everything credited (faucet, top-ups)."""
    total_spent_usd_micros: int | None = None
    """Everything charged."""
    ledger_entries: int | None = None
    """How many ledger entries it has."""
    rail: str | None = None
    """How it pays: `x402` or `allowance`."""


class LedgerEntry(Result):
    """One credit or charge of a wallet."""

    id: int
    """The entry's id (newer entries have larger ids)."""
    amount_usd_micros: int
    """Positive for a credit, negative for a charge."""
    kind: str
    """`faucet`, `charge`, ..."""
    description: str
    """What it was for, e.g. `create prototype project`."""
    project_id: str | None = None
    """The project a charge was for."""
    tx: str | None = None
    """The settlement transaction."""
    created_at: datetime
    """When it was written."""


class BillingHistory(Result):
    """A wallet's ledger, newest first."""

    wallet: str
    """The wallet address (lower case)."""
    entries: list[LedgerEntry]
    """Its entries, newest first."""


class FaucetGrant(Written):
    """Testnet USDC from the faucet (`replayed` when a keyed grant was answered again)."""

    address: str
    """The funded address (lower case)."""
    amount_usd_micros: int
    """What was granted."""
    available_usd_micros: int
    """The balance after the grant."""
    network: str
    """The network the grant is on."""
    tx: str
    """The grant's transaction."""
    next_available_at: datetime | None = None
    """When this address may ask the faucet again."""
