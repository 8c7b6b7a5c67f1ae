"""AltaTech's rules for tables, fields and batch sizes: checked by the client and the sandbox alike.

The seed ("Create Database Table") says: a table name has at most 32 characters, a–z,
digits and underscores, and starts with a letter; a field name has at most 32 characters
of a–z, digits and underscores; descriptions have at most 128 characters; a field's type
is TEXT, INT, FLOAT, DATETIME or BOOLEAN; `required` and `unique` are booleans. The
data routes take at most 1,000 records per import, 100 updates and 1,000 deletions per
call, and 1–100 records per page.

`check_create_table(body)` reads the JSON body of `POST /v1/database/create-table` and
raises `RuleBroken` for the first rule it breaks, with the code the API answers with
(403100 invalid table name, 403103 invalid field name, 40000 anything else) and the
path of the offending field (`fields[2].name`), so a message can name it. One function
serves both sides, so the client refuses exactly what the sandbox would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Literal, TypeAlias

__all__ = [
    "FIELD_TYPES", "MAX_DELETE", "MAX_DESCRIPTION", "MAX_IMPORT", "MAX_NAME", "MAX_PAGE_SIZE", "MAX_UPDATE",
    "FieldType", "RuleBroken", "check_create_table", "check_field_name", "check_table_name",
]

FieldType: TypeAlias = Literal["TEXT", "INT", "FLOAT", "DATETIME", "BOOLEAN"]
FIELD_TYPES: Final = ("TEXT", "INT", "FLOAT", "DATETIME", "BOOLEAN")
MAX_NAME: Final = 32
MAX_DESCRIPTION: Final = 128
MAX_IMPORT: Final = 1000
MAX_UPDATE: Final = 100
MAX_DELETE: Final = 1000
MAX_PAGE_SIZE: Final = 100

_TABLE_NAME: Final = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELD_NAME: Final = re.compile(r"^[a-z0-9_]+$")

INVALID_PARAMETERS: Final = 40000
INVALID_TABLE_NAME: Final = 403100
INVALID_FIELD_NAME: Final = 403103


class RuleBroken(ValueError):
    """A request breaks one of AltaTech's rules; `code` is what the API answers with."""

    def __init__(self, code: int, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.code = code
        """40000, 403100 or 403103."""
        self.field = field
        """Where: `name`, `description`, `fields[2].type`, …"""
        self.message = message
        """What is wrong, and what is allowed."""


def check_table_name(name: Any, field: str = "name") -> str:
    """The table name, or `RuleBroken` (403100) saying which rule it breaks."""
    if not isinstance(name, str) or not name:
        raise RuleBroken(INVALID_TABLE_NAME, field, "a table name is required (a string)")
    if len(name) > MAX_NAME:
        raise RuleBroken(INVALID_TABLE_NAME, field, f"{name!r} has {len(name)} characters; at most {MAX_NAME}")
    if not _TABLE_NAME.match(name):
        raise RuleBroken(
            INVALID_TABLE_NAME, field,
            f"{name!r} must start with a letter and use only a-z, digits and underscores",
        )
    return name


def check_field_name(name: Any, field: str) -> str:
    """A field name, or `RuleBroken` (403103) saying which rule it breaks."""
    if not isinstance(name, str) or not name:
        raise RuleBroken(INVALID_FIELD_NAME, field, "a field name is required (a string)")
    if len(name) > MAX_NAME:
        raise RuleBroken(INVALID_FIELD_NAME, field, f"{name!r} has {len(name)} characters; at most {MAX_NAME}")
    if not _FIELD_NAME.match(name):
        raise RuleBroken(INVALID_FIELD_NAME, field, f"{name!r} may use only a-z, digits and underscores")
    return name


def check_create_table(body: Mapping[str, Any]) -> None:
    """Raise `RuleBroken` for the first rule the create-table body breaks."""
    check_table_name(body.get("name"))
    _description(body.get("description"), "description")
    fields = body.get("fields")
    if not isinstance(fields, list) or not fields:
        raise RuleBroken(INVALID_PARAMETERS, "fields", "at least one field is required (a list)")
    seen: set[str] = set()
    for index, entry in enumerate(fields):
        where = f"fields[{index}]"
        if not isinstance(entry, Mapping):
            raise RuleBroken(INVALID_PARAMETERS, where, "each field is an object")
        name = check_field_name(entry.get("name"), f"{where}.name")
        if name in seen:
            raise RuleBroken(INVALID_FIELD_NAME, f"{where}.name", f"{name!r} is declared twice")
        seen.add(name)
        _description(entry.get("description"), f"{where}.description")
        if entry.get("type") not in FIELD_TYPES:
            raise RuleBroken(
                INVALID_PARAMETERS, f"{where}.type",
                f"{entry.get('type')!r} is not a type: use {', '.join(FIELD_TYPES)}",
            )
        for flag in ("required", "unique"):
            if flag in entry and not isinstance(entry[flag], bool):
                raise RuleBroken(INVALID_PARAMETERS, f"{where}.{flag}", "must be true or false")


def _description(value: Any, field: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise RuleBroken(INVALID_PARAMETERS, field, "a description is required (it helps the LLM read the data)")
    if len(value) > MAX_DESCRIPTION:
        raise RuleBroken(
            INVALID_PARAMETERS, field, f"has {len(value)} characters; at most {MAX_DESCRIPTION}",
        )
