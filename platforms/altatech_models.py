"""What the AltaTech client sends and returns: field declarations and the answers' data."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .altatech_rules import FieldType

__all__ = [
    "DeleteResult", "FieldSpec", "ImportFailure", "ImportTask", "Record", "RecordsPage",
    "SandboxProject", "TableCreated", "TableInfo", "UpdateFailure", "UpdateResult",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FieldSpec(_Model):
    """One field of a table, as create-table declares it."""

    name: str
    description: str
    type: FieldType
    required: bool = False
    unique: bool = False


class TableCreated(_Model):
    """A new table: its id, used by every data route."""

    table_id: str


class ImportFailure(_Model):
    """Rows of an import that were not stored, and why."""

    row: int | None = None
    row_number_start: int = 0
    row_number_end: int = 0
    fail_reason: str


class ImportTask(_Model):
    """One import task's state."""

    id: str
    progress: float = Field(description="0 to 1")
    status: str = Field(description="PENDING, RUNNING, SUCCESS, PARTIAL_SUCCESS or FAIL")
    total_count: int
    success_count: int
    fail_count: int
    fail_detail: list[ImportFailure] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        """Whether the task is done (whatever its outcome)."""
        return self.status in ("SUCCESS", "PARTIAL_SUCCESS", "FAIL")


class TableInfo(_Model):
    """A table's declaration, as the records page reports it."""

    id: str
    name: str
    description: str
    field_count: int
    fields: list[FieldSpec]


class Record(_Model):
    """One record: its id and its values by field name."""

    record_id: str
    values: dict[str, Any]
    created_at: str | None = None
    updated_at: str | None = None


class RecordsPage(_Model):
    """One page of a table's records."""

    table_info: TableInfo
    records: list[Record]
    page: int
    page_size: int
    total: int


class UpdateFailure(_Model):
    """An update entry that was not applied."""

    index: int
    reason: str


class UpdateResult(_Model):
    """What an update call did."""

    total_count: int
    success_count: int
    fail_count: int
    created_count: int = 0
    fail_detail: list[UpdateFailure] = Field(default_factory=list)


class DeleteResult(_Model):
    """What a delete call did."""

    deleted_count: int


class SandboxProject(_Model):
    """An AltaTech project of the local sandbox, and its API key (shown once)."""

    project_id: str
    api_key: str = Field(repr=False)
    name: str
    plan: str
    rpm: int
