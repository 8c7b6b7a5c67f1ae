"""A wallet's money with the platform: `Run402.billing.account/history`.

Free and keyless: anyone may read a wallet's balance and ledger by its address.
Amounts are micro-USD (1 USD = 1,000,000 = USDC atomic units).
"""

from __future__ import annotations

from .run402_http import Call, Sender, parse
from .run402_models import BillingAccount, BillingHistory

__all__ = ["BillingApi"]


class BillingApi:
    """`/v1/billing/accounts/:wallet`."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    async def account(self, wallet: str) -> BillingAccount:
        """The wallet's balance and totals (an unknown wallet has a zero balance)."""
        answer = await self._sender.send(Call(route="billing_account", path={"wallet": wallet}))
        return parse(BillingAccount, answer)

    async def history(self, wallet: str, *, limit: int = 20) -> BillingHistory:
        """The wallet's last `limit` ledger entries, newest first."""
        answer = await self._sender.send(Call(
            route="billing_history", path={"wallet": wallet}, params=[("limit", str(limit))],
        ))
        return parse(BillingHistory, answer)
