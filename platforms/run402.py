"""The Run402 client: one typed async method per route, payments through x402.

Usage::

    budget = Budget(limit_micros=500_000)                   # what this run may spend
    async with Run402(api=None, account=wallet.account(), budget=budget) as r:
        created = await r.create_project("todo", idempotency_key=f"{run}:{step}:1")
        await r.sql(created.project_id, created.service_key,
                    "CREATE TABLE todos (id serial PRIMARY KEY, task text NOT NULL)")
        await r.rest.insert("todos", created.service_key, {"task": "ship it"})
        rows = await r.rest.select("todos", created.anon_key, order="id.desc")
        ledger.record(created.receipt)                       # what the call paid

`api=None` resolves the base: `$APPWRIGHT_API`, `$RUN402_API_BASE`, else the local
sandbox (see `resolve_api`). Payments are on Base Sepolia unless
`network="eip155:8453"` is passed; the per-call cap and the run's `Budget` are checked
before anything is signed (`BudgetExceeded`, `CallCapExceeded`).

Every paid or provisioning call takes a keyword-only `idempotency_key` with no default:
the caller derives it from its own journal (run, step, call number), so a call resent
after a crash or a lost answer is answered from the server's record instead of paying
twice. Unpaid writes take an optional one. Retries are described in `run402_retry`;
errors in `run402_errors`; the route table in `run402_paths`.

`sql` checks its text against the platform's rules (`sqlgate`, the same gate the sandbox
applies) before sending it: SQL the backend would refuse raises `SqlRefused` and never
leaves the machine, for every caller.

Namespaces: `rest` (select/insert/update/delete), `auth` (signup/login/refresh/user/
logout), `subdomains` (claim/lookup/list/release), `billing` (account/history),
`storage` (upload/download/delete/list/sign/download_signed), `images` (generate),
`functions` (deploy/list/delete/invoke), `secrets` (set/list/delete), `apps` (deploy/publish/
inspect/versions/fork).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

import httpx

from .run402_apps import AppsApi
from .run402_auth import AuthApi
from .run402_billing import BillingApi
from .run402_errors import (
    ApiError,
    ApiUnreachable,
    InvalidApiBase,
    LeaseExpired,
    RateLimited,
    ResponseLost,
    Run402Error,
    SqlRefused,
    UnexpectedResponse,
    WalletRequired,
    WrongApiBase,
    scrub,
)
from .run402_http import Call, Sender, parse, parse_list
from .run402_functions import FunctionsApi, SecretsApi
from .run402_images import GeneratedImage, ImagesApi
from .run402_models import (
    BillingAccount,
    BillingHistory,
    DeveloperMessage,
    FaucetGrant,
    LedgerEntry,
    MessageSent,
    ProjectCreated,
    ProjectDeleted,
    ProjectRenewed,
    Quote,
    Secret,
    SiteDeployed,
    Subdomain,
    SubdomainReleased,
    TierPrice,
)
from .run402_models_data import (
    AuthUser,
    ColumnInfo,
    PolicyInfo,
    ProjectSchema,
    RlsApplied,
    Rows,
    RowsWritten,
    Session,
    SqlResult,
    TableInfo,
)
from .run402_paths import DEFAULT_API, SEED_ROUTES, ApiBase, Route, Routes, resolve_api
from .run402_rest import Filters, RestApi
from .run402_retry import RetryPolicy
from .run402_storage import ObjectDeleted, ObjectInfo, SignedUrl, StorageApi, StoredObject
from .run402_subdomains import SubdomainsApi
from .run402_usage import ProjectUsage
from .sqlgate import SqlBlocked, SqlSyntaxError, check_sql
from .x402pay import (
    DEFAULT_NETWORK,
    MAINNET,
    TESTNET,
    Budget,
    BudgetExceeded,
    CallCapExceeded,
    InsufficientFunds,
    PaymentError,
    PaymentReceipt,
    PaymentRefused,
    PaymentTermsRefused,
    paying_client,
)

if TYPE_CHECKING:  # eth-account takes ~0.6 s to import; a `wallet.WalletKey` pays as well
    from eth_account.signers.local import LocalAccount

# The whole public surface, so callers import from this one module.
__all__ = [
    # the client and its inputs
    "DEFAULT_API", "DEFAULT_MAX_PER_CALL_MICROS", "DEFAULT_NETWORK", "MAINNET", "SEED_ROUTES", "TESTNET",
    "ApiBase", "AuthApi", "BillingApi", "Budget", "Filters", "ImagesApi", "RestApi", "RetryPolicy", "RlsTable",
    "RlsTemplate", "Route", "Routes", "Run402", "StorageApi", "SubdomainsApi", "Tier", "resolve_api",
    "AppsApi", "FunctionsApi", "SecretsApi",
    # results
    "AuthUser", "BillingAccount", "BillingHistory", "ColumnInfo", "DeveloperMessage", "FaucetGrant",
    "LedgerEntry", "MessageSent", "PaymentReceipt", "PolicyInfo", "ProjectCreated", "ProjectDeleted",
    "ProjectRenewed", "ProjectSchema", "Quote", "RlsApplied", "Rows", "RowsWritten", "Secret", "Session",
    "SiteDeployed", "SqlResult", "Subdomain", "SubdomainReleased", "TableInfo", "TierPrice",
    "GeneratedImage", "ObjectDeleted", "ObjectInfo", "ProjectUsage", "SignedUrl", "StoredObject",
    # errors
    "ApiError", "ApiUnreachable", "BudgetExceeded", "CallCapExceeded", "InsufficientFunds",
    "InvalidApiBase", "LeaseExpired", "PaymentError", "PaymentRefused", "PaymentTermsRefused",
    "RateLimited", "ResponseLost", "Run402Error", "SqlRefused", "UnexpectedResponse", "WalletRequired",
    "WrongApiBase",
]  # fmt: skip

DEFAULT_MAX_PER_CALL_MICROS: Final = 100_000
"""$0.10, the price of a prototype project: the most a default run pays in one call.
A hobby ($5) or team ($20) project needs a higher cap, on purpose."""

Tier: TypeAlias = Literal["prototype", "hobby", "team"]
RlsTemplate: TypeAlias = Literal["user_owns_rows", "public_read", "public_read_write"]


@dataclass(frozen=True, kw_only=True)
class RlsTable:
    """One table an RLS template is applied to."""

    table: str
    """The table's name."""
    owner_column: str | None = None
    """For `user_owns_rows`: the uuid column holding the owner's user id."""


class Run402:
    """An async client of one Run402 API (the local sandbox or the hosted service).

    Use it as an async context manager, or call `aclose()`. Safe to share between
    tasks. Without `account` it makes only unpaid calls (a paid one raises
    `WalletRequired`).
    """

    def __init__(
        self, *, api: str | ApiBase | None = None, account: LocalAccount | None = None,
        budget: Budget | None = None, max_per_call_micros: int = DEFAULT_MAX_PER_CALL_MICROS,
        network: str = DEFAULT_NETWORK, routes: Routes = SEED_ROUTES,
        retry: RetryPolicy | None = None, timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`transport` replaces the HTTP transport under both clients (proxies, tests)."""
        if network not in (TESTNET, MAINNET):
            raise ValueError(f"unsupported network {network!r}: use {TESTNET} (testnet) or {MAINNET} (mainnet)")
        self.api: ApiBase = api if isinstance(api, ApiBase) else resolve_api(api)
        """The API base in use, and where it came from."""
        self.network: str = network
        """The one network this client pays on."""
        self.address: str | None = account.address if account is not None else None
        """The paying wallet's address (None without a wallet)."""
        settings: dict[str, Any] = {
            "base_url": self.api.url, "timeout": timeout, "headers": {"User-Agent": "appwright"},
        }
        plain = httpx.AsyncClient(transport=transport or httpx.AsyncHTTPTransport(), **settings)
        paying = None if account is None else paying_client(
            account, max_per_call_micros=max_per_call_micros, budget=budget, network=network,
            inner=transport, **settings,
        )
        self._sender = Sender(
            api=self.api, routes=routes, plain=plain, paying=paying, retry=retry or RetryPolicy(),
        )
        self.rest: RestApi = RestApi(self._sender)
        """REST on a project's tables."""
        self.auth: AuthApi = AuthApi(self._sender)
        """A project's user auth."""
        self.subdomains: SubdomainsApi = SubdomainsApi(self._sender)
        """Custom subdomains."""
        self.billing: BillingApi = BillingApi(self._sender)
        """Wallet balances and ledgers."""
        self.storage: StorageApi = StorageApi(self._sender)
        """A project's storage objects."""
        self.images: ImagesApi = ImagesApi(self._sender)
        """Image generation (paid)."""
        self.functions: FunctionsApi = FunctionsApi(self._sender)
        """Serverless functions: deploy, list, delete, invoke."""
        self.secrets: SecretsApi = SecretsApi(self._sender)
        """A project's secrets: set, list names, delete."""
        self.apps: AppsApi = AppsApi(self._sender)
        """Whole apps: bundle deploy, publish, inspect, versions, fork."""

    def __repr__(self) -> str:
        return f"Run402(api={self.api.url!r}, network={self.network!r}, address={self.address!r})"

    async def __aenter__(self) -> Run402:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._sender.aclose()

    # --- projects ---------------------------------------------------------------------

    async def quote(self) -> Quote:
        """Prices and limits of every tier (free)."""
        return parse(Quote, await self._sender.send(Call(route="quote")))

    async def create_project(self, name: str, tier: Tier = "prototype", *, idempotency_key: str) -> ProjectCreated:
        """A new project (paid: the tier's price). Keep its keys: they are shown once."""
        answer = await self._sender.send(Call(
            route="create_project", path={"tier": tier}, json={"name": name},
            idempotency_key=_required(idempotency_key),
        ))
        return parse(ProjectCreated, answer)

    async def renew(self, project_id: str, *, idempotency_key: str) -> ProjectRenewed:
        """Extend the lease by the tier's lease (paid: the tier's price); revives an expired one."""
        answer = await self._sender.send(Call(
            route="renew", path={"project_id": project_id}, idempotency_key=_required(idempotency_key),
        ))
        return parse(ProjectRenewed, answer)

    async def delete_project(self, project_id: str, service_key: str) -> ProjectDeleted:
        """Delete the project: its tables, users, sites' subdomains."""
        answer = await self._sender.send(Call(
            route="delete_project", path={"project_id": project_id},
            headers=_bearer(service_key), secrets=(service_key,),
        ))
        return parse(ProjectDeleted, answer, project_id=project_id)

    async def usage(self, project_id: str, service_key: str) -> ProjectUsage:
        """API calls and storage against the tier's limits, and the lifecycle state (any state but deleted)."""
        answer = await self._sender.send(Call(
            route="usage", path={"project_id": project_id}, headers=_bearer(service_key), secrets=(service_key,),
        ))
        return parse(ProjectUsage, answer)

    # --- admin ------------------------------------------------------------------------

    async def sql(
        self, project_id: str, service_key: str, sql: str, *, idempotency_key: str | None = None,
    ) -> SqlResult:
        """Run SQL in the project's schema (DDL and DML).

        SQL that breaks the platform's rules (a blocked statement, or a syntax error) raises
        `SqlRefused` before anything is sent.
        """
        await _gate(sql, secrets=(service_key,))
        answer = await self._sender.send(Call(
            route="sql", path={"project_id": project_id}, content=sql.encode(),
            headers={**_bearer(service_key), "Content-Type": "text/plain"},
            idempotency_key=idempotency_key, secrets=(service_key,),
        ))
        return parse(SqlResult, answer)

    async def schema(self, project_id: str, service_key: str) -> ProjectSchema:
        """The project's tables: columns, primary keys, RLS and policies."""
        answer = await self._sender.send(Call(
            route="schema", path={"project_id": project_id}, headers=_bearer(service_key), secrets=(service_key,),
        ))
        return parse(ProjectSchema, answer)

    async def rls(
        self, project_id: str, service_key: str, template: RlsTemplate,
        tables: Sequence[RlsTable | str], *, idempotency_key: str | None = None,
    ) -> RlsApplied:
        """Apply an RLS template to tables (`RlsTable` to name an owner column)."""
        body = {"template": template, "tables": [_rls_entry(t) for t in tables]}
        answer = await self._sender.send(Call(
            route="rls", path={"project_id": project_id}, json=body, headers=_bearer(service_key),
            idempotency_key=idempotency_key, secrets=(service_key,),
        ))
        return parse(RlsApplied, answer)

    # --- sites and messages -----------------------------------------------------------

    async def deploy_site(
        self, name: str, project_id: str, files: Mapping[str, str | bytes], *, idempotency_key: str,
    ) -> SiteDeployed:
        """Deploy static files (path → text or bytes; needs `index.html`). Paid: $0.05."""
        body = {"name": name, "project": project_id, "files": [_site_file(p, d) for p, d in files.items()]}
        answer = await self._sender.send(Call(
            route="deploy_site", json=body, idempotency_key=_required(idempotency_key),
        ))
        return parse(SiteDeployed, answer)

    async def send_message(self, text: str, *, idempotency_key: str) -> MessageSent:
        """A message to the platform's developers (paid: $0.01)."""
        answer = await self._sender.send(Call(
            route="send_message", json={"message": text}, idempotency_key=_required(idempotency_key),
        ))
        return parse(MessageSent, answer)

    async def messages(self, *, limit: int = 50) -> tuple[DeveloperMessage, ...]:
        """Messages the sandbox received, newest first (the sandbox's stand-in inbox)."""
        answer = await self._sender.send(Call(route="messages", params=[("limit", str(limit))]))
        return parse_list(DeveloperMessage, answer, "messages")

    async def faucet(self, address: str, *, idempotency_key: str | None = None) -> FaucetGrant:
        """Testnet USDC for `address`; once per 24 h (then `RateLimited` says when again).

        With an `idempotency_key`, a grant whose answer was lost is answered again, not refused.
        """
        call = Call(route="faucet", json={"address": address}, idempotency_key=idempotency_key)
        return parse(FaucetGrant, await self._sender.send(call))


async def _gate(sql: str, *, secrets: tuple[str, ...]) -> None:
    """Raise `SqlRefused` for SQL the backend would refuse (403 blocked / 400 syntax)."""
    try:
        # Parsing a large text takes a while: keep it off the event loop, as the sandbox does.
        await asyncio.to_thread(check_sql, sql)
    except SqlBlocked as blocked:
        statement = scrub(blocked.statement, secrets)  # it may quote a name from the SQL
        raise SqlRefused(
            reason=blocked.reason, statement=statement, hint=blocked.hint, message=f"{statement} is not allowed",
        ) from None
    except SqlSyntaxError as error:
        raise SqlRefused(
            reason="sql_syntax_error", statement=None, message=scrub(str(error), secrets),
            hint="correct the SQL where the parser points, then send it again", position=error.position,
        ) from None


def _required(idempotency_key: str) -> str:
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise ValueError("idempotency_key must be a non-empty string (derive it from run, step and call number)")
    return idempotency_key


def _bearer(service_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {service_key}"}


def _rls_entry(table: RlsTable | str) -> dict[str, str]:
    if isinstance(table, str):
        return {"table": table}
    entry = {"table": table.table}
    if table.owner_column:
        entry["owner_column"] = table.owner_column
    return entry


def _site_file(path: str, data: str | bytes) -> dict[str, str]:
    if isinstance(data, bytes):
        return {"file": path, "data": base64.b64encode(data).decode("ascii"), "encoding": "base64"}
    return {"file": path, "data": data}
