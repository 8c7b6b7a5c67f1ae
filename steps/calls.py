"""Turning the client's typed results into the JSON the journal and the agent see."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel

__all__ = ["as_dict"]


def as_dict(value: Any) -> Any:
    """A JSON-able form of a client result (dataclass, pydantic model, list, scalar)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): as_dict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_dict(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
