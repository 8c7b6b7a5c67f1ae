"""`appwright projects list|usage|sql|rest|renew|delete`: the hosted `run402 projects` verbs.

The projects are those appwright's runs made: each run keeps its project's id and
keys in the memory store under APPWRIGHT_HOME (the hosted CLI keeps them in its own
projects.json), so a verb needs only the project id. Each verb talks to the API its
run was built on, unless `--api` names another.

Exit codes: 0 done; 1 refused or failed by the backend (an expired lease, no funds,
nothing answering); 2 bad input, with nothing sent (an unknown project, empty SQL,
SQL the platform would block, a malformed REST query, no wallet to renew with).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar
from urllib.parse import parse_qsl

import typer

from .cli import app
from .cli_runs import open_store

# The memory store (sqlite-utils) loads only when a verb runs, the client (httpx, x402,
# eth-account) only for the verbs that call the API: `import appwright.workflow.cli` stays light.
if TYPE_CHECKING:
    from appwright.platforms.run402 import Run402

__all__ = ["projects_app"]

projects_app = typer.Typer(help="The projects your runs created: usage, SQL, REST, renew, delete.", no_args_is_help=True)
app.add_typer(projects_app, name="projects")

T = TypeVar("T")
ProjectArg = Annotated[str, typer.Argument(help="The project's id (prj_…), as `appwright projects list` shows it.")]
ApiOption = Annotated[str | None, typer.Option("--api", help="API base; default: the one its run was built on.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@dataclass(frozen=True, kw_only=True)
class Known:
    """A project a run created, with what it takes to reach it."""

    project_id: str
    run_id: str
    api_base: str
    service_key: str
    lease_expires_at: str | None
    deleted: bool


@projects_app.command("list")
def list_projects(as_json: JsonOption = False) -> None:
    """List the projects your runs created, newest first."""
    known = _known()
    if as_json:
        typer.echo(json.dumps([_public(k) for k in known], indent=2))
        return
    if not known:
        typer.echo("No projects yet: `appwright build` creates one.")
        return
    for k in known:
        state = "deleted" if k.deleted else f"lease until {k.lease_expires_at or '?'}"
        typer.echo(f"{k.project_id}  run {k.run_id}  {k.api_base}  {state}")


@projects_app.command()
def usage(project_id: ProjectArg, api: ApiOption = None, as_json: JsonOption = False) -> None:
    """Show API calls and storage against the tier's limits, and the lease's state."""
    known = _find(project_id)
    found = _call(known, api, lambda c: c.usage(known.project_id, known.service_key))
    if as_json:
        typer.echo(found.model_dump_json(indent=2))
        return
    typer.echo(f"project:  {found.project_id} ({found.tier})")
    typer.echo(f"state:    {found.state}; lease until {found.lease_expires_at.isoformat()}")
    typer.echo(f"api:      {found.api_calls:,} of {found.api_calls_limit:,} calls")
    typer.echo(f"storage:  {found.storage_bytes:,} of {found.storage_limit_bytes:,} bytes")
    if found.state != "active":
        typer.echo(f"Renew it: appwright projects renew {found.project_id}")


@projects_app.command()
def sql(project_id: ProjectArg, text: Annotated[str, typer.Argument(help="The SQL to run.")], api: ApiOption = None) -> None:
    """Run SQL in the project's schema (service key) and print the result as JSON."""
    if not text.strip():
        _fail("the SQL is empty", 2)
    known = _find(project_id)
    result = _call(known, api, lambda c: c.sql(known.project_id, known.service_key, text))
    typer.echo(json.dumps({"rows": result.rows, "rowCount": result.row_count}, indent=2, default=str))


@projects_app.command()
def rest(
    project_id: ProjectArg, table: Annotated[str, typer.Argument(help="The table to read.")],
    query: Annotated[str, typer.Argument(help="PostgREST query, e.g. 'done=eq.false&order=id'.")] = "",
    api: ApiOption = None,
) -> None:
    """Read a table through REST (service key) and print the rows as JSON."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True) if query else []
    except ValueError:
        _fail(f"the query {query!r} is not name=value pairs joined by '&' (e.g. 'done=eq.false&order=id')", 2)
    known = _find(project_id)
    rows = _call(known, api, lambda c: c.rest.select(table, known.service_key, filters=pairs))
    typer.echo(json.dumps(rows.rows, indent=2, default=str))


@projects_app.command()
def renew(project_id: ProjectArg, api: ApiOption = None) -> None:
    """Extend the lease by the tier's lease, paid from your wallet (restores an expired project)."""
    from appwright.platforms.wallet import WalletError, load_wallet

    known = _find(project_id)
    try:
        wallet = load_wallet()
    except WalletError as error:
        _fail(str(error), 2)
    if wallet is None:
        _fail("no wallet to pay with: appwright wallet create, then appwright wallet fund", 2)
    # One key per renewal asked for: a lost answer is resent by the client under the same key.
    key = f"cli-renew:{known.project_id}:{uuid.uuid4()}"

    async def pay(client: Run402) -> Any:
        price = (await client.quote()).tiers[(await client.usage(known.project_id, known.service_key)).tier]
        async with _client(api or known.api_base, wallet.account(), price.price_usd_micros) as paying:
            return await paying.renew(known.project_id, idempotency_key=key)

    renewed = _call(known, api, pay)
    _remember(known, {"lease_expires_at": renewed.lease_expires_at.isoformat()})
    paid = renewed.receipt.amount_micros / 1e6 if renewed.receipt else 0.0
    typer.echo(f"Renewed {known.project_id} ({renewed.tier}) until {renewed.lease_expires_at.isoformat()}; paid ${paid:.2f}")


@projects_app.command()
def delete(
    project_id: ProjectArg, api: ApiOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")] = False,
) -> None:
    """Delete the project: its tables, users, storage and subdomains. Cannot be undone."""
    known = _find(project_id)
    if not yes:
        if not _interactive():
            _fail(f"deleting {project_id} cannot be undone: pass --yes to confirm", 2)
        typer.confirm(f"Delete {project_id} and all its data?", abort=True)
    _call(known, api, lambda c: c.delete_project(known.project_id, known.service_key))
    _remember(known, {"project_state": "deleted"})
    typer.echo(f"Deleted {known.project_id}")


# --- helpers --------------------------------------------------------------------------


def _known() -> list[Known]:
    with open_store() as store:
        found = []
        for run in store.list_runs():
            facts = store.all_facts(run.run_id, redact=False)
            if isinstance(facts.get("project_id"), str) and isinstance(facts.get("service_key"), str):
                found.append(Known(
                    project_id=facts["project_id"], run_id=run.run_id, api_base=run.api_base,
                    service_key=facts["service_key"], lease_expires_at=facts.get("lease_expires_at"),
                    deleted=facts.get("project_state") == "deleted",
                ))
    return found


def _find(project_id: str) -> Known:
    for known in _known():
        if known.project_id == project_id:
            return known
    _fail(f"no project {project_id!r} among your runs' projects; `appwright projects list` shows them", 2)


def _public(known: Known) -> dict[str, Any]:
    return {"project_id": known.project_id, "run_id": known.run_id, "api": known.api_base,
            "lease_expires_at": known.lease_expires_at, "deleted": known.deleted}


def _remember(known: Known, facts: dict[str, Any]) -> None:
    from appwright.memory import StepId

    with open_store() as store:
        store.put_facts(known.run_id, StepId("provision"), facts)


def _client(api: str, account: Any = None, cap_micros: int = 100_000) -> Run402:
    from appwright.platforms.run402 import Run402

    return Run402(api=api, account=account, max_per_call_micros=cap_micros)


def _call(known: Known, api: str | None, work: Callable[[Run402], Awaitable[T]]) -> T:
    """Run `work` with a client of the project's API; a refusal exits 2 (SQL) or 1 (the backend's)."""
    import asyncio

    from appwright.platforms.run402 import PaymentError, Run402Error, SqlRefused

    async def go() -> T:
        async with _client(api or known.api_base) as client:
            return await work(client)

    try:
        return asyncio.run(go())
    except SqlRefused as refused:
        _fail(f"{refused}" + (f" ({refused.hint})" if refused.hint else ""), 2)
    except ValueError as error:
        _fail(str(error), 2)
    except (Run402Error, PaymentError) as error:
        _fail(str(error), 1)


def _interactive() -> bool:
    import sys

    return sys.stdin.isatty()


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
