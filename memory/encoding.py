"""How values and times are written into the store's columns.

JSON is written canonically (sorted keys, no spaces) so that two equal values give
byte-equal text: the journal compares recorded and new arguments that way. Times
are ISO 8601 in UTC, which sorts as text in the same order as in time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

__all__ = ["dump_json", "load_json", "now", "parse_time", "time_text"]


def dump_json(value: Any, *, what: str) -> str:
    """Canonical JSON text of `value`; `what` names the value in the error if it is not JSON."""
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{what} must be plain JSON data (dict, list, str, number, bool, None): {error}"
        ) from error


def load_json(text: str) -> Any:
    """The value of JSON `text` written by `dump_json`."""
    return json.loads(text)


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def time_text(moment: datetime) -> str:
    """`moment` as stored: ISO 8601, UTC, microseconds."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    """The timezone-aware time stored as `text` by `time_text`."""
    return datetime.fromisoformat(text)
