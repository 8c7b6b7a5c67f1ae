"""AltaTech values: JSON in, Postgres values out, row by row, with the API's reasons for refusing.

A field's type says what it stores: TEXT (text), INT (bigint), FLOAT (double precision),
DATETIME (timestamptz; ISO 8601, a time without zone is UTC) and BOOLEAN. Values arrive
the way a CSV would carry them, so numbers and booleans are also read from their text
("42", "true"). A required field must have a value; a unique field must have a value
too (the import note of the API says so), of at most 256 characters.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["PG_TYPES", "RowRefused", "coerce", "check_row", "jsonable_value", "quote_ident"]

PG_TYPES: Final = {
    "TEXT": "text", "INT": "bigint", "FLOAT": "double precision", "DATETIME": "timestamptz", "BOOLEAN": "boolean",
}
"""The Postgres type each AltaTech type is stored as."""
_UNIQUE_TEXT_MAX: Final = 256
_INT8: Final = 2**63
_TRUE: Final = {"true", "1", "yes", "y", "t"}
_FALSE: Final = {"false", "0", "no", "n", "f"}


class RowRefused(ValueError):
    """A record that cannot be stored; the message says why, in the API's words."""


def quote_ident(name: str) -> str:
    """A quoted identifier (names are checked against the rules before they get here)."""
    return '"' + name.replace('"', '""') + '"'


def coerce(field: Mapping[str, Any], value: Any) -> Any:
    """`value` as the Postgres value of `field`'s type; None for no value; ValueError if it cannot be."""
    kind = field["type"]
    if value is None or (isinstance(value, str) and not value.strip() and kind != "TEXT"):
        return None
    reader = _READERS[kind]
    return reader(value)


def check_row(fields: Sequence[Mapping[str, Any]], row: Any) -> dict[str, Any]:
    """The row's values by field name (every field, None where absent), or `RowRefused`."""
    if not isinstance(row, Mapping):
        raise RowRefused("a record must be an object of field name → value")
    names = {f["name"] for f in fields}
    reasons = [f"`{key}` is not a field of this table." for key in row if key not in names]
    values: dict[str, Any] = {}
    for field in fields:
        name = field["name"]
        try:
            values[name] = coerce(field, row.get(name))
        except (ValueError, TypeError, OverflowError):
            reasons.append(f"`{name}` must be {field['type']}; {row.get(name)!r} is not.")
            continue
        reasons.extend(_presence(field, values[name]))
    if reasons:
        raise RowRefused(" ".join(reasons))
    return values


def _presence(field: Mapping[str, Any], value: Any) -> list[str]:
    name, empty = field["name"], value is None or value == ""
    said = []
    if field.get("required") and empty:
        said.append(f"`{name}` is required and must have a value; "
                    "the current value is invalid or the property is missing.")
    if field.get("unique") and empty:
        said.append(f"`{name}` must be unique, but the value is empty or the property is missing.")
    if field.get("unique") and isinstance(value, str) and len(value) > _UNIQUE_TEXT_MAX:
        said.append(f"`{name}` is unique, so its value may have at most {_UNIQUE_TEXT_MAX} characters.")
    return said


def jsonable_value(value: Any) -> Any:
    """A stored value as JSON: times in ISO 8601."""
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise TypeError("not text")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("a boolean is not an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not a whole number")
        value = int(value)
    number = int(value.strip()) if isinstance(value, str) else value
    if not isinstance(number, int) or not -_INT8 <= number < _INT8:
        raise ValueError("out of range")
    return number


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    number = float(value.strip()) if isinstance(value, str) else float(value)
    if math.isnan(number) or math.isinf(number):
        raise ValueError("not a finite number")
    return number


def _datetime(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise TypeError("a date and time is written as ISO 8601 text")
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("not a boolean")


_READERS: Final = {"TEXT": _text, "INT": _int, "FLOAT": _float, "DATETIME": _datetime, "BOOLEAN": _boolean}
