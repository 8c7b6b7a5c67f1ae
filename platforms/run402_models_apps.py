"""Results of the app-level calls: functions, secrets, bundle deploy, publish and fork.

Keys are `Secret`s (repr `***`), as in `run402_models`; secret values never come
back from the API at all, only their names.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import Field

from .run402_models import ProjectCreated, Result

__all__ = [
    "AppVersion", "BundleDeployed", "Forked", "FunctionDeployed", "FunctionDeleted", "FunctionInfo",
    "FunctionLink", "FunctionList", "FunctionResponse", "RequiredSecret", "SecretDeleted", "SecretInfo",
    "SecretList", "SecretsSet",
]  # fmt: skip


class FunctionInfo(Result):
    """A deployed function (its code is not sent back)."""

    name: str
    """The function's name, the last segment of its URL."""
    url: str
    """Where it is called: `<api>/functions/v1/<name>`."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Its `timeout_s` / `memory_mb`, as deployed."""
    created_at: datetime | None = None
    updated_at: datetime | None = None


class FunctionDeployed(FunctionInfo):
    """A function deployed by `functions.deploy`."""

    created: bool = False
    """True when this call created it (HTTP 201), False when it replaced it."""


class FunctionList(Result):
    """The project's functions and its tier's limit."""

    functions: list[FunctionInfo]
    limit: int
    """How many functions the project's tier allows."""


class FunctionDeleted(Result):
    """A deleted function."""

    name: str
    status: str


class FunctionResponse(Result):
    """What a function answered: status, headers and body as it returned them."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        """The body as UTF-8 text."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body read as JSON."""
        return json.loads(self.body)


class SecretsSet(Result):
    """Secrets set by one call."""

    status: str
    keys: list[str]
    """Their keys (never their values)."""


class SecretInfo(Result):
    """One secret's name and when it was set; never its value."""

    key: str
    created_at: datetime
    updated_at: datetime


class SecretList(Result):
    """The project's secret names, and whether a fork still lacks some."""

    secrets: list[SecretInfo]
    readiness: str
    """`ready`, or `configuration_required` when a forked project lacks secrets its template needs."""
    missing: list[str]
    """The keys still to set."""


class SecretDeleted(Result):
    """A deleted secret."""

    key: str
    status: str


class FunctionLink(Result):
    """A function of a new project and its URL."""

    name: str
    url: str


class _NewProject(ProjectCreated):
    """A project made by a paid call that installs an app: the keys, and what it installed."""

    functions: list[FunctionLink] = Field(default_factory=list)
    site_url: str | None = None
    deployment_id: str | None = None
    subdomain_url: str | None = None


class BundleDeployed(_NewProject):
    """A whole app deployed by one call (`POST /v1/deploy/:tier`)."""

    secrets: list[str] = Field(default_factory=list)
    """The names of the secrets it was given."""


class RequiredSecret(Result):
    """A secret a published version needs its forks to set."""

    key: str
    description: str = ""


class AppVersion(Result):
    """A published version of a project."""

    version_id: str
    project_id: str
    name: str
    description: str
    visibility: str
    fork_allowed: bool
    tables: list[str]
    functions: list[dict[str, Any]]
    """`{name, config}` of each function."""
    secret_names: list[str]
    required_secrets: list[RequiredSecret]
    site_files: int
    created_at: datetime
    url: str
    """Where it is inspected."""
    schema_sql: str | None = None
    """The schema's DDL (inspect only)."""
    site: list[dict[str, Any]] | None = None
    """`{path, bytes}` of each site file (inspect only)."""


class Forked(_NewProject):
    """A new project forked from a published version."""

    version_id: str
    readiness: str
    """`ready`, or `configuration_required` until `missing_secrets` are set."""
    missing_secrets: list[str]
    required_secrets: list[RequiredSecret] = Field(default_factory=list)
