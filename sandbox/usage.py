"""API-call quotas: counted in memory on the hot path, written to Postgres every moment.

Writing a counter row on every REST call would cost a database write per read; the
counts are kept per project in memory and added to `sandbox.projects.api_calls` by a
background flush. A project over its tier's quota gets the seed's 402 quota error,
told apart from a payment 402 by its code.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import suppress

import asyncpg

from .errors import ApiError
from .projects import Project
from .tiers import get_tier

__all__ = ["Usage"]


class Usage:
    """Counts API calls per project and enforces the tier's quota."""

    def __init__(self) -> None:
        self._pending: Counter[str] = Counter()

    def count(self, project: Project) -> None:
        """Count one call, or refuse it with 402 quota_exceeded."""
        used = project.api_calls + self._pending[project.id]
        limit = get_tier(project.tier).api_calls
        if used >= limit:
            raise ApiError(
                402, "quota_exceeded", f"project {project.id} used its {limit:,} API calls for this lease",
                hint=f"renew it: POST /v1/projects/{project.id}/renew (x402) resets the quota",
            )
        self._pending[project.id] += 1

    def used(self, project: Project) -> int:
        """Calls counted this lease, the unflushed ones included."""
        return project.api_calls + self._pending[project.id]

    def forget(self, project_id: str) -> None:
        """Drop unflushed counts (the quota was reset)."""
        self._pending.pop(project_id, None)

    async def flush(self, pool: asyncpg.Pool) -> None:
        """Add the counted calls to the projects' rows."""
        pending, self._pending = self._pending, Counter()
        for project_id, calls in pending.items():
            await pool.execute(
                "UPDATE sandbox.projects SET api_calls = api_calls + $2 WHERE id = $1", project_id, calls,
            )

    async def flush_forever(self, pool: asyncpg.Pool, every_s: float = 1.0) -> None:
        """Flush every `every_s` seconds until cancelled (and once more then)."""
        try:
            while True:
                await asyncio.sleep(every_s)
                await self.flush(pool)
        finally:
            with suppress(Exception):
                await asyncio.shield(self.flush(pool))
