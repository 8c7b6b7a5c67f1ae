"""Serverless functions and secrets: `Run402.functions` and `Run402.secrets`.

Deploying, listing and deleting take the project's service key; calling a function
takes any key of its project (`anon_key`, `service_key` or a user's access token),
sent as `apikey`. A function's own answer comes back as a `FunctionResponse`
whatever its content type; a function that throws, hangs or crashes raises
`ApiError` (`function_error` 500, `function_timeout` 504, `function_crashed` 502).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from .run402_http import Call, Sender, parse
from .run402_models_apps import (
    FunctionDeleted, FunctionDeployed, FunctionList, FunctionResponse, SecretDeleted, SecretList, SecretsSet,
)

__all__ = ["FunctionsApi", "SecretsApi"]


class FunctionsApi:
    """`/admin/v1/projects/:id/functions` and `/functions/v1/:name`."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    async def deploy(
        self, project_id: str, service_key: str, name: str, code: str, *, config: Mapping[str, Any] | None = None,
    ) -> FunctionDeployed:
        """Create or replace a function (an ES module with a default export taking a Request)."""
        body: dict[str, Any] = {"name": name, "code": code}
        if config is not None:
            body["config"] = dict(config)
        answer = await self._sender.send(Call(
            route="function_deploy", path={"project_id": project_id}, json=body,
            headers=_bearer(service_key), secrets=(service_key,),
        ))
        return parse(FunctionDeployed, answer, created=answer.status == 201)

    async def list(self, project_id: str, service_key: str) -> FunctionList:
        """The project's functions (names, URLs, config) and its tier's limit."""
        answer = await self._sender.send(Call(
            route="function_list", path={"project_id": project_id}, headers=_bearer(service_key),
            secrets=(service_key,),
        ))
        return parse(FunctionList, answer)

    async def delete(self, project_id: str, service_key: str, name: str) -> FunctionDeleted:
        """Delete a function."""
        answer = await self._sender.send(Call(
            route="function_delete", path={"project_id": project_id, "name": name},
            headers=_bearer(service_key), secrets=(service_key,),
        ))
        return parse(FunctionDeleted, answer)

    async def invoke(
        self, name: str, key: str, *, method: Literal["POST", "GET"] = "POST", json: Any = None,
        content: bytes | None = None, headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> FunctionResponse:
        """Call a function of the key's project. A POST is never resent; a GET may be, on a 5xx."""
        answer = await self._sender.send(Call(
            route="function_invoke" if method == "POST" else "function_invoke_get", path={"name": name},
            json=json, content=content, params=list((params or {}).items()),
            headers={**(headers or {}), "apikey": key}, secrets=(key,),
        ))
        return FunctionResponse(status=answer.status, headers=dict(answer.headers.items()), body=answer.data or b"")


class SecretsApi:
    """`/admin/v1/projects/:id/secrets`: uppercase keys, values never read back."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    async def set(self, project_id: str, service_key: str, values: Mapping[str, str]) -> SecretsSet:
        """Set (create or replace) secrets: key → value."""
        body = {"secrets": [{"key": k, "value": v} for k, v in values.items()]}
        answer = await self._sender.send(Call(
            route="secret_set", path={"project_id": project_id}, json=body, headers=_bearer(service_key),
            secrets=(service_key, *values.values()),
        ))
        return parse(SecretsSet, answer)

    async def list(self, project_id: str, service_key: str) -> SecretList:
        """The secrets' names (never values) and, for a fork, which required ones are missing."""
        answer = await self._sender.send(Call(
            route="secret_list", path={"project_id": project_id}, headers=_bearer(service_key),
            secrets=(service_key,),
        ))
        return parse(SecretList, answer)

    async def delete(self, project_id: str, service_key: str, key: str) -> SecretDeleted:
        """Delete one secret."""
        answer = await self._sender.send(Call(
            route="secret_delete", path={"project_id": project_id, "key": key}, headers=_bearer(service_key),
            secrets=(service_key,),
        ))
        return parse(SecretDeleted, answer)


def _bearer(service_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {service_key}"}
