"""Fixtures for the steps' tests: a real backend on the session's sandbox and a paid project.

A step's actions reach the platform through `steps.Backend`; here that is a paying Run402
client of the session's sandbox, so an action does exactly what it does in a build.

Not a conftest.py: the platforms' tests import helpers from their own conftest by module
name, which a second conftest loaded up front (pytest tests/platforms tests/steps) would
shadow. A test module imports the fixtures it uses::

    from stepkit import SandboxBackend, backend, ctx, facts  # noqa: F401 (fixtures)
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from eth_account import Account

from appwright.platforms.run402 import TESTNET, Budget, Run402
from appwright.steps import ActionContext


@dataclass(kw_only=True)
class SandboxBackend:
    """A test's `Backend`: the session's sandbox and a client paying with a funded wallet."""

    api: str
    run402: Run402
    tier: str = "prototype"
    network: str = TESTNET

    async def client(self) -> Run402:
        return self.run402

    async def get(self, url: str) -> tuple[int, str]:
        # The sandbox serves every site itself, by Host (*.localhost may not resolve here).
        parts = urlsplit(url)
        async with httpx.AsyncClient(base_url=self.api, timeout=15) as http:
            answer = await http.get(parts.path or "/", headers={"Host": parts.netloc})
        return answer.status_code, answer.text

    async def charges(self) -> list[int]:
        """What the wallet was charged so far, in micro-USD, newest first."""
        assert self.run402.address is not None
        history = await self.run402.billing.history(self.run402.address, limit=200)
        return [-entry.amount_usd_micros for entry in history.entries if entry.kind == "charge"]


@pytest.fixture
async def backend(api: str) -> AsyncIterator[SandboxBackend]:
    """A backend paying with a new wallet that holds one faucet grant ($0.25)."""
    account = Account.create()
    async with Run402(api=api) as free:
        await free.faucet(account.address)
    async with Run402(api=api, account=account, budget=Budget(limit_micros=250_000)) as run402:
        yield SandboxBackend(api=api, run402=run402)


@pytest.fixture
async def facts(backend: SandboxBackend) -> dict[str, Any]:
    """The memory a build holds after provision: a prototype project ($0.10) and its keys."""
    created = await backend.run402.create_project("gates", idempotency_key=str(uuid.uuid4()))
    return {
        "app": {"name": "gates", "title": "Gates"},
        "project_id": created.project_id,
        "service_key": str(created.service_key),
        "anon_key": str(created.anon_key),
    }


@pytest.fixture
def ctx(backend: SandboxBackend, facts: dict[str, Any]) -> ActionContext:
    """An action's context: the backend and the project's facts (no Idempotency-Key)."""
    return ActionContext(backend=backend, facts=facts, idempotency_key=None)
