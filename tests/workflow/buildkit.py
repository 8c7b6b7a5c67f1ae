"""Helpers for the engine's end-to-end tests: real `appwright` processes on the session sandbox.

Every build runs as a subprocess of `.venv/bin/appwright` with its own APPWRIGHT_HOME
and its own wallet file, against the session's sandbox (`--api`), so the sandbox
outlives a killed build and its ledger is the ground truth of what was charged:
each test has its own wallet, hence its own billing history.

    kit = Kit(root=tmp_path, api=api)
    done = kit.build("todo", run_id=kit.new_run_id())
    assert done.returncode == 0, done.output
    facts = kit.facts(run_id)

`Prefetch` starts a module's slow pipelines (subprocess builds) in a small thread
pool as soon as the module's first test asks, so that the cases of a parametrized
test overlap instead of queueing: each test then waits for its own result only.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

from appwright.memory import MemoryStore, RunId

__all__ = [
    "APPWRIGHT", "Kit", "Proc", "Prefetch", "PAID", "blueprint_seed", "fetch_site", "sandbox_sql",
    "same_rows", "selected_params",
]

APPWRIGHT = Path(sys.executable).with_name("appwright")
"""The console script of the venv the tests run in (.venv/bin/appwright)."""

PAID = {"create_project": 100_000, "deploy_site": 50_000, "send_feedback": 10_000}
"""What each paid action of a prototype build costs, in micro-USD."""

PROCESS_TIMEOUT = 180.0
"""The most one appwright command may take before the test gives up on it."""


@dataclass(frozen=True)
class Proc:
    """A finished appwright command."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        """stdout and stderr together, for assertion messages and searches."""
        return f"$ appwright {' '.join(self.args)}\n[exit {self.returncode}, {self.seconds:.1f} s]\n" \
               f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


@dataclass
class Kit:
    """One test's appwright: its home, its wallet, and the sandbox it builds on."""

    root: Path
    """The test's own folder (tmp_path)."""
    api: str
    """The session sandbox's API base."""
    wallet_path: Path | None = None
    """Another wallet file to use (default: `root/wallet.json`)."""

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def wallet_file(self) -> Path:
        return self.wallet_path or self.root / "wallet.json"

    @property
    def db(self) -> Path:
        return self.home / "appwright.db"

    @staticmethod
    def new_run_id() -> str:
        """A run id nobody else uses (idempotency keys derive from it)."""
        return f"t-{uuid.uuid4().hex[:12]}"

    def env(self, fault: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("APPWRIGHT_", "RUN402_"))}
        env.update(APPWRIGHT_HOME=str(self.home), APPWRIGHT_WALLET=str(self.wallet_file),
                   NO_COLOR="1", COLUMNS="200", TERM="dumb")
        if fault:
            env["APPWRIGHT_FAULT"] = fault
        return env

    def run(self, *args: str, fault: str | None = None, timeout: float = PROCESS_TIMEOUT) -> Proc:
        """`appwright <args>` with this kit's home and wallet; stdin is not a terminal."""
        started = time.monotonic()
        done = subprocess.run(
            [str(APPWRIGHT), *args], env=self.env(fault), stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout, cwd=self.root,
        )
        return Proc(list(args), done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    def build(self, blueprint: str = "todo", *extra: str, run_id: str | None = None,
              fault: str | None = None, yes: bool = True) -> Proc:
        args = ["build", "--blueprint", blueprint, "--no-serve", "--api", self.api]
        if yes:
            args.append("--yes")
        if run_id:
            args += ["--run-id", run_id]
        return self.run(*args, *extra, fault=fault)

    def resume(self, run_id: str) -> Proc:
        return self.run("resume", run_id, "--no-serve")

    # --- what the store says ----------------------------------------------------------

    def store(self) -> MemoryStore:
        """The kit's memory store (close it, or use it in a `with`)."""
        return MemoryStore(self.db)

    def facts(self, run_id: str) -> dict[str, Any]:
        """The run's memory, secrets included."""
        with self.store() as store:
            return store.all_facts(RunId(run_id), redact=False)

    def payments(self, run_id: str) -> list[Any]:
        with self.store() as store:
            return store.payments(RunId(run_id))

    def only_run_id(self) -> str:
        with self.store() as store:
            runs = store.list_runs()
        assert len(runs) == 1, runs
        return runs[0].run_id

    # --- what the wallet and the sandbox say ------------------------------------------

    def wallet(self) -> dict[str, Any]:
        """The wallet file (address, privateKey, ...)."""
        return json.loads(self.wallet_file.read_text())

    def history(self) -> list[dict[str, Any]]:
        """The wallet's billing history in the sandbox, newest first."""
        address = self.wallet()["address"]
        answer = httpx.get(f"{self.api}/v1/billing/accounts/{address}/history", params={"limit": 100}, timeout=30)
        assert answer.status_code == 200, answer.text
        return list(answer.json()["entries"])

    def charges(self) -> list[int]:
        """What the wallet was charged, each as a positive amount, sorted."""
        return sorted(-e["amount_usd_micros"] for e in self.history() if e["kind"] == "charge")

    def rest_rows(self, table: str, service_key: str) -> list[dict[str, Any]]:
        """Every row of a project table, read through the sandbox's REST API with the service key."""
        answer = httpx.get(f"{self.api}/rest/v1/{table}", params={"select": "*"},
                           headers={"apikey": service_key}, timeout=30)
        assert answer.status_code == 200, f"GET /rest/v1/{table}: {answer.status_code} {answer.text}"
        return list(answer.json())


def fetch_site(url: str, path: str = "/") -> httpx.Response:
    """GET a page of an app at its `*.localhost` URL: loopback, with the URL's Host header.

    glibc does not resolve `*.localhost`, so connect to 127.0.0.1 ourselves.
    """
    parts = urlsplit(url)
    assert parts.hostname and parts.port, url
    host = f"{parts.hostname}:{parts.port}"
    return httpx.get(f"http://127.0.0.1:{parts.port}{path}", headers={"Host": host}, timeout=30)


def sandbox_sql(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    """Rows of a query on the sandbox's own Postgres (the superuser DSN)."""

    async def fetch() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    return asyncio.run(fetch())


def blueprint_seed(blueprint: str) -> dict[str, list[dict[str, Any]]]:
    """The bundled blueprint's seed rows by table (tables without rows left out)."""
    from appwright.workflow.blueprint import load_blueprint

    return {s.table: list(s.rows) for s in load_blueprint(blueprint).seed if s.rows}


_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d")


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)  # a float column's 2.0 comes back from Postgres' JSON as 2
    if isinstance(value, str) and _TIMESTAMP.match(value):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc).isoformat()
    return value


def same_rows(actual: Iterable[dict[str, Any]], seed: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """(table rows, seed rows), each row projected onto the seed's columns, canonical and sorted.

    Timestamps are compared as instants (the seed says `...Z`, Postgres `...+00:00`), and
    numbers by value (2.0 and 2 are the same).
    """
    def project(row: dict[str, Any], keys: Iterable[str]) -> str:
        return json.dumps({k: _canonical(row.get(k)) for k in sorted(keys)}, sort_keys=True, default=str)

    keys = {k for row in seed for k in row}
    return (sorted(project(row, keys) for row in actual), sorted(project(row, keys) for row in seed))


@dataclass
class Prefetch:
    """Runs `work(key)` for many keys in a few threads; `result(key)` waits for one of them."""

    work: Callable[[Any], Any]
    workers: int = 3
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _futures: dict[Hashable, Future[Any]] = field(default_factory=dict, init=False, repr=False)

    def start(self, keys: Iterable[Hashable]) -> Prefetch:
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="prefetch")
        for key in keys:
            if key not in self._futures:
                self._futures[key] = self._pool.submit(self.work, key)
        return self

    def result(self, key: Hashable) -> Any:
        if key not in self._futures:  # not selected at start (e.g. a rerun): do it now
            assert self._pool is not None
            self._futures[key] = self._pool.submit(self.work, key)
        return self._futures[key].result()

    def close(self) -> None:
        if self._pool is not None:
            for future in self._futures.values():
                future.cancel()
            self._pool.shutdown(wait=True)


def selected_params(session_items: Iterable[Any], module: Any, name: str) -> list[Any]:
    """The values of parameter `name` of the tests of `module` that this session will run, in order."""
    values: list[Any] = []
    for item in session_items:
        callspec = getattr(item, "callspec", None)
        if getattr(item, "module", None) is module and callspec is not None and name in callspec.params:
            value = callspec.params[name]
            if value not in values:
                values.append(value)
    return values
