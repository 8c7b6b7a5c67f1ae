"""Fixtures for the Run402 client tests: a funded wallet, a client, a project, on the real sandbox."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from appwright.platforms.run402 import Budget, LedgerEntry, ProjectCreated, Run402


def new_key() -> str:
    """A fresh Idempotency-Key."""
    return str(uuid.uuid4())


async def funded_account(api: str) -> LocalAccount:
    """A new key with one faucet grant (0.25 USD)."""
    account: LocalAccount = Account.create()
    async with Run402(api=api) as client:
        await client.faucet(account.address)
    return account


async def charges(api: str, wallet: str) -> list[LedgerEntry]:
    """The wallet's charges (not its faucet credits), newest first."""
    async with Run402(api=api) as client:
        history = await client.billing.history(wallet, limit=200)
    return [entry for entry in history.entries if entry.kind == "charge"]


@pytest.fixture
async def account(api: str) -> LocalAccount:
    """A new wallet key, funded by the sandbox's faucet."""
    return await funded_account(api)


@pytest.fixture
def budget() -> Budget:
    """A run budget of $1, more than one faucet grant."""
    return Budget(limit_micros=1_000_000)


@pytest.fixture
async def client(api: str, account: LocalAccount, budget: Budget) -> AsyncIterator[Run402]:
    """A client of the session's sandbox paying with `account`."""
    async with Run402(api=api, account=account, budget=budget) as run402:
        yield run402


@pytest.fixture
async def project(client: Run402) -> ProjectCreated:
    """A prototype project paid by `account` ($0.10)."""
    return await client.create_project("test", idempotency_key=new_key())
