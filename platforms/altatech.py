"""The AltaTech client: a typed async method per database route, with the API key as Bearer.

Usage::

    async with AltaTech(api="http://127.0.0.1:8402") as alta:
        project = await alta.create_sandbox_project("todo")     # the sandbox's stand-in for the key page
        key = project.api_key
        table = await alta.create_table(key, "tasks", "Things to do", [
            FieldSpec(name="id", description="task id", type="TEXT", required=True, unique=True),
            FieldSpec(name="done", description="finished?", type="BOOLEAN"),
        ])
        ids = await alta.import_records(key, table.table_id, [{"id": "t1", "done": False}])
        tasks = await alta.wait_for_imports(key, ids)              # polls import-results
        page = await alta.page_records(key, table.table_id, page=1, page_size=100)

Requests that break the rules of `altatech_rules` (names, descriptions, types, batch
sizes, page size) raise the same typed error the API would answer with, `sent=False`,
naming the field, before anything leaves the machine. Error codes are in
`altatech_errors`; results in `altatech_models`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from .altatech_errors import (
    ERRORS, AltaTechError, ApiError, ApiUnreachable, AuthenticationFailed, ImportTimeout, InternalError,
    InvalidFieldName, InvalidParameters, InvalidTableName, RpmLimitExceeded, TableNotFound,
    UnexpectedResponse, UpgradeRequired, api_error,
)
from .altatech_models import (
    DeleteResult, FieldSpec, ImportFailure, ImportTask, Record, RecordsPage, SandboxProject, TableCreated,
    TableInfo, UpdateFailure, UpdateResult,
)
from .altatech_rules import MAX_DELETE, MAX_IMPORT, MAX_PAGE_SIZE, MAX_UPDATE, RuleBroken, check_create_table

# The whole public surface, so callers import from this one module.
__all__ = [
    "DEFAULT_API", "AltaTech",
    # results and inputs
    "DeleteResult", "FieldSpec", "ImportFailure", "ImportTask", "Record", "RecordsPage", "SandboxProject",
    "TableCreated", "TableInfo", "UpdateFailure", "UpdateResult",
    # errors
    "AltaTechError", "ApiError", "ApiUnreachable", "AuthenticationFailed", "ImportTimeout", "InternalError",
    "InvalidFieldName", "InvalidParameters", "InvalidTableName", "RpmLimitExceeded", "TableNotFound",
    "UnexpectedResponse", "UpgradeRequired",
]  # fmt: skip

DEFAULT_API: Final = "http://127.0.0.1:8402"
"""The local sandbox, which serves the AltaTech routes beside Run402's."""

M = TypeVar("M", bound=BaseModel)
Progress = Callable[[tuple[ImportTask, ...]], None]


class AltaTech:
    """An async client of one AltaTech API (the sandbox, or https://altatech.ai)."""

    def __init__(self, *, api: str = DEFAULT_API, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.api = api.rstrip("/")
        """The API base."""
        self._http = httpx.AsyncClient(
            base_url=self.api, timeout=timeout, transport=transport, headers={"User-Agent": "appwright"},
        )

    async def __aenter__(self) -> AltaTech:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    # --- tables ----------------------------------------------------------------------

    async def create_table(self, api_key: str, name: str, description: str, fields: Sequence[FieldSpec],
                           *, idempotency_key: str | None = None) -> TableCreated:
        """A new table; its name, description and fields are checked before sending."""
        body = {"name": name, "description": description, "fields": [f.model_dump() for f in fields]}
        try:
            check_create_table(body)
        except RuleBroken as broken:
            raise ERRORS[broken.code](broken.message, field=broken.field, sent=False) from None
        data = await self._send("POST", "/v1/database/create-table", api_key, json=body, key=idempotency_key)
        return _read(TableCreated, {"table_id": data} if isinstance(data, str) else data)

    # --- records ---------------------------------------------------------------------

    async def import_records(self, api_key: str, table_id: str, records: Sequence[Mapping[str, Any]],
                             *, idempotency_key: str | None = None) -> tuple[str, ...]:
        """Queue up to 1,000 records for import; the ids of the tasks that will store them."""
        _batch("records", records, MAX_IMPORT)
        body = {"table_id": table_id, "records": [dict(r) for r in records]}
        data = await self._send("POST", "/v1/database/import/records", api_key, json=body, key=idempotency_key)
        if not isinstance(data, list) or not all(isinstance(i, str) for i in data):
            raise UnexpectedResponse("import/records answered without a list of task ids")
        return tuple(data)

    async def import_results(self, api_key: str, ids: Sequence[str]) -> tuple[ImportTask, ...]:
        """The state of import tasks, in the order asked."""
        if not ids:
            raise InvalidParameters("give at least one task id", field="ids", sent=False)
        data = await self._send("GET", "/v1/database/query/import-results", api_key,
                                params=[("ids", i) for i in ids])
        return tuple(_read(ImportTask, item) for item in _list(data, "import-results"))

    async def wait_for_imports(self, api_key: str, ids: Sequence[str], *, timeout: float = 120.0,
                               interval: float = 0.1, on_progress: Progress | None = None) -> tuple[ImportTask, ...]:
        """Poll import-results until every task has finished; `on_progress` sees every poll."""
        deadline = time.monotonic() + timeout
        while True:
            tasks = await self.import_results(api_key, ids)
            if on_progress is not None:
                on_progress(tasks)
            if all(t.finished for t in tasks):
                return tasks
            if time.monotonic() >= deadline:
                pending = tuple(t.id for t in tasks if not t.finished)
                raise ImportTimeout(f"{len(pending)} import task(s) still running after {timeout:.0f} s; "
                                    "poll import-results again later", pending=pending)
            await asyncio.sleep(interval)

    async def page_records(self, api_key: str, table_id: str, *, page: int = 1, page_size: int = 20,
                           filter: Mapping[str, Any] | None = None, keyword: str | None = None) -> RecordsPage:
        """One page of records (page from 1, 1–100 a page), optionally filtered or searched."""
        if page < 1:
            raise InvalidParameters(f"page is {page}; pages count from 1", field="page", sent=False)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidParameters(f"page_size is {page_size}; use 1 to {MAX_PAGE_SIZE}",
                                    field="page_size", sent=False)
        body: dict[str, Any] = {"table_id": table_id, "page": page, "page_size": page_size}
        if filter:
            body["filter"] = dict(filter)
        if keyword:
            body["keyword"] = keyword
        return _read(RecordsPage, await self._send("POST", "/v1/database/records/page", api_key, json=body))

    async def update_records(self, api_key: str, table_id: str, updates: Sequence[Mapping[str, Any]],
                             *, is_create: bool = False, idempotency_key: str | None = None) -> UpdateResult:
        """Update up to 100 records, each `{record_id | filter, updated_fields}`."""
        _batch("update_data", updates, MAX_UPDATE)
        body = {"table_id": table_id, "is_create": is_create, "update_data": [dict(u) for u in updates]}
        data = await self._send("POST", "/v2/database/update/record", api_key, json=body, key=idempotency_key)
        return _read(UpdateResult, data)

    async def delete_records(self, api_key: str, table_id: str, targets: Sequence[Mapping[str, Any]],
                             *, idempotency_key: str | None = None) -> DeleteResult:
        """Delete up to 1,000 records, each `{record_id}` or `{filter: {unique_field: value}}`."""
        _batch("delete_data", targets, MAX_DELETE)
        body = {"table_id": table_id, "delete_data": [dict(t) for t in targets]}
        data = await self._send("POST", "/v2/database/delete/record", api_key, json=body, key=idempotency_key)
        return _read(DeleteResult, data)

    # --- the sandbox's key page ------------------------------------------------------

    async def create_sandbox_project(self, name: str, *, plan: str = "pro", rpm: int | None = None,
                                     idempotency_key: str | None = None) -> SandboxProject:
        """A project and its API key on the local sandbox (the hosted service issues keys on its web page)."""
        body: dict[str, Any] = {"name": name, "plan": plan}
        if rpm is not None:
            body["rpm"] = rpm
        data = await self._send("POST", "/sandbox/altatech/projects", None, json=body, key=idempotency_key)
        return _read(SandboxProject, data)

    # --- sending ---------------------------------------------------------------------

    async def _send(self, method: str, path: str, api_key: str | None, *, json: Any = None,
                    params: Sequence[tuple[str, str]] = (), key: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        if key:
            headers["Idempotency-Key"] = key
        try:
            response = await self._http.request(method, path, json=json, params=list(params), headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise ApiUnreachable(f"nothing answers at {self.api}: {type(error).__name__}; "
                                 "start a sandbox with `appwright sandbox`, or check the address") from None
        try:
            body = response.json()
        except ValueError:
            raise UnexpectedResponse(f"{method} {path} answered HTTP {response.status_code} "
                                     "with a body that is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("code"), int):
            raise UnexpectedResponse(f"{method} {path} answered without AltaTech's {{code, message, data}}")
        if body["code"] != 0:
            raise api_error(body, response.status_code)
        return body.get("data")


def _batch(field: str, items: Sequence[Any], most: int) -> None:
    if not items:
        raise InvalidParameters("give at least one", field=field, sent=False)
    if len(items) > most:
        raise InvalidParameters(f"{len(items)} given; at most {most} per call (split them)", field=field, sent=False)


def _list(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise UnexpectedResponse(f"{what} answered without a list")
    return data


def _read(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        where = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(data)'}: {e['msg']}"
                          for e in error.errors(include_input=False, include_url=False))
        raise UnexpectedResponse(f"the answer's data does not read as {model.__name__}: {where}") from None

