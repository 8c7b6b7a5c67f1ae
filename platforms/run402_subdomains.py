"""Custom subdomains: `Run402.subdomains.claim/lookup/list/release`.

Claiming is a free, idempotent upsert made with the project's service key as
`Authorization: Bearer` (not `apikey`): calling it on every deploy re-points the name.
Lookup needs no key.
"""

from __future__ import annotations

from .run402_http import Call, Sender, parse, parse_list
from .run402_models import Subdomain, SubdomainReleased

__all__ = ["SubdomainsApi"]


class SubdomainsApi:
    """`/v1/subdomains`."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    async def claim(
        self, name: str, deployment_id: str, service_key: str, *, idempotency_key: str | None = None,
    ) -> Subdomain:
        """Point `name` at a deployment of the service key's project (created or re-pointed)."""
        answer = await self._sender.send(Call(
            route="subdomain_claim", json={"name": name, "deployment_id": deployment_id},
            headers=_bearer(service_key), idempotency_key=idempotency_key, secrets=(service_key,),
        ))
        return parse(Subdomain, answer, created=answer.status == 201)

    async def lookup(self, name: str) -> Subdomain:
        """Where `name` points (raises `ApiError` 404 `subdomain_not_found` if unclaimed)."""
        answer = await self._sender.send(Call(route="subdomain_lookup", path={"name": name}))
        return parse(Subdomain, answer)

    async def list(self, service_key: str) -> tuple[Subdomain, ...]:
        """The subdomains of the service key's project, by name."""
        answer = await self._sender.send(Call(
            route="subdomain_list", headers=_bearer(service_key), secrets=(service_key,),
        ))
        return parse_list(Subdomain, answer, "subdomains")

    async def release(self, name: str, service_key: str) -> SubdomainReleased:
        """Release one of the project's subdomains."""
        answer = await self._sender.send(Call(
            route="subdomain_release", path={"name": name}, headers=_bearer(service_key),
            secrets=(service_key,),
        ))
        return parse(SubdomainReleased, answer, name=name)


def _bearer(service_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {service_key}"}

