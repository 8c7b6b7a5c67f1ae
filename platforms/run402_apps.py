"""Whole apps: bundle deploy, publish, inspect, versions and fork (`Run402.apps`).

`deploy` (`POST /v1/deploy/:tier`) and `fork` (`POST /v1/fork/:tier`) are paid with
x402 at the tier's project price and take a keyword-only `idempotency_key`, like
every paid call: resent after a lost answer, they are answered from the server's
record without a second charge. A bundle deploy is atomic: when any part fails,
nothing is created and nothing is charged (`ApiError.code` says why; its body's
`part` says which part).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from .run402_http import Call, Sender, parse, parse_list
from .run402_models_apps import AppVersion, BundleDeployed, Forked

__all__ = ["AppsApi"]


class AppsApi:
    """`/v1/deploy`, `/admin/v1/projects/:id/publish|versions`, `/v1/apps`, `/v1/fork`."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    async def deploy(
        self, name: str, *, tier: str = "prototype", migrations: str | None = None,
        rls: Mapping[str, Any] | None = None, secrets: Mapping[str, str] | None = None,
        functions: Sequence[Mapping[str, Any]] = (), site: Mapping[str, str | bytes] | None = None,
        subdomain: str | None = None, idempotency_key: str,
    ) -> BundleDeployed:
        """A new project with its whole app, in one paid call. `site`: path → text or bytes."""
        body: dict[str, Any] = {"name": name}
        if migrations is not None:
            body["migrations"] = migrations
        if rls is not None:
            body["rls"] = dict(rls)
        if secrets:
            body["secrets"] = [{"key": k, "value": v} for k, v in secrets.items()]
        if functions:
            body["functions"] = [dict(f) for f in functions]
        if site is not None:
            body["site"] = [_site_file(p, d) for p, d in site.items()]
        if subdomain is not None:
            body["subdomain"] = subdomain
        answer = await self._sender.send(Call(
            route="deploy_bundle", path={"tier": tier}, json=body, idempotency_key=_required(idempotency_key),
            secrets=tuple((secrets or {}).values()),
        ))
        return parse(BundleDeployed, answer)

    async def publish(
        self, project_id: str, service_key: str, *, visibility: str = "public", fork_allowed: bool = True,
        description: str = "", required_secrets: Mapping[str, str] | None = None,
    ) -> AppVersion:
        """Snapshot the project as a new version. `required_secrets`: key → what it is for."""
        body = {
            "visibility": visibility, "fork_allowed": fork_allowed, "description": description,
            "required_secrets": [{"key": k, "description": d} for k, d in (required_secrets or {}).items()],
        }
        answer = await self._sender.send(Call(
            route="publish", path={"project_id": project_id}, json=body, headers=_bearer(service_key),
            secrets=(service_key,),
        ))
        return parse(AppVersion, answer)

    async def inspect(self, version_id: str, *, service_key: str | None = None) -> AppVersion:
        """A version with its schema and site files (free; a private one needs its project's service key)."""
        answer = await self._sender.send(Call(
            route="app_version", path={"version_id": version_id},
            headers=_bearer(service_key) if service_key else {}, secrets=(service_key,) if service_key else (),
        ))
        return parse(AppVersion, answer)

    async def versions(self, project_id: str, service_key: str) -> tuple[AppVersion, ...]:
        """The project's published versions, newest first."""
        answer = await self._sender.send(Call(
            route="versions", path={"project_id": project_id}, headers=_bearer(service_key), secrets=(service_key,),
        ))
        return parse_list(AppVersion, answer, "versions")

    async def fork(
        self, version_id: str, name: str, *, tier: str = "prototype", subdomain: str | None = None,
        secrets: Mapping[str, str] | None = None, idempotency_key: str,
    ) -> Forked:
        """A new, independent project from a version (paid: the tier's price); see `readiness`."""
        body: dict[str, Any] = {"version_id": version_id, "name": name}
        if subdomain is not None:
            body["subdomain"] = subdomain
        if secrets:
            body["secrets"] = [{"key": k, "value": v} for k, v in secrets.items()]
        answer = await self._sender.send(Call(
            route="fork", path={"tier": tier}, json=body, idempotency_key=_required(idempotency_key),
            secrets=tuple((secrets or {}).values()),
        ))
        return parse(Forked, answer)


def _required(idempotency_key: str) -> str:
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise ValueError("idempotency_key must be a non-empty string (derive it from run, step and call number)")
    return idempotency_key


def _bearer(service_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {service_key}"}


def _site_file(path: str, data: str | bytes) -> dict[str, str]:
    if isinstance(data, bytes):
        return {"file": path, "data": base64.b64encode(data).decode("ascii"), "encoding": "base64"}
    return {"file": path, "data": data}
