"""A project's use against its tier's limits, and where it is in its lifecycle."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from .run402_models import Result

__all__ = ["ProjectUsage"]


class ProjectUsage(Result):
    """`GET /admin/v1/projects/:id/usage`."""

    project_id: str
    """The project."""
    tier: str
    """Its tier, whose limits these are."""
    state: Literal["active", "read_only", "archived"]
    """active; read_only for 7 days after the lease ends; archived after that (renew restores it)."""
    lease_expires_at: datetime
    """When the lease ends (or ended)."""
    archived_at: datetime | None = None
    """When the project is (or was) archived unless renewed."""
    api_calls: int
    """API calls this lease."""
    api_calls_limit: int
    """The tier's API calls per lease."""
    storage_bytes: int
    """Bytes its storage objects take."""
    storage_limit_bytes: int
    """The tier's storage quota."""
