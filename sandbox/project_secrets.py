"""A project's secrets: uppercase keys, values only ever handed to its functions.

Values are written and read by the sandbox alone: no route answers with a value, a
published version keeps the names only, and a function gets them as its whole
environment (`process.env.NAME`). Keys are uppercase (`OPENAI_API_KEY`); `NODE_*`
is refused, since Node reads variables such as `NODE_OPTIONS` itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import asyncpg

from .errors import ApiError

__all__ = ["SecretValue", "parse_secret", "parse_secrets", "store_secrets", "secret_env", "secret_names"]

_KEY = re.compile(r"^[A-Z][A-Z0-9_]*$")
MAX_KEY_CHARS = 128
MAX_VALUE_BYTES = 64 * 1024
MAX_SECRETS = 100


@dataclass(frozen=True, kw_only=True)
class SecretValue:
    """One `{key, value}` of a request."""

    key: str
    value: str


def check_key(key: Any) -> str:
    """The key if it is an uppercase name, else a 400 saying how to write it."""
    if not isinstance(key, str) or not key:
        raise ApiError(400, "invalid_secret_key", "key is required", hint='send {"key": "OPENAI_API_KEY", "value": "..."}')
    if len(key) > MAX_KEY_CHARS or not _KEY.match(key):
        suggestion = re.sub(r"[^A-Z0-9_]+", "_", key.upper()).strip("_") or "MY_SECRET"
        raise ApiError(
            400, "invalid_secret_key",
            f"secret key {key[:MAX_KEY_CHARS]!r} must be uppercase: A-Z, 0-9 and _, starting with a letter",
            hint=f"try {suggestion[:MAX_KEY_CHARS]!r}",
        )
    if key.startswith("NODE_"):
        raise ApiError(400, "reserved_secret_key", f"{key} is reserved: Node.js reads NODE_* variables itself",
                       hint="name it without the NODE_ prefix")
    return key


def parse_secret(item: Any, where: str = "secret") -> SecretValue:
    """One `{key, value}` object, checked."""
    if not isinstance(item, dict):
        raise ApiError(400, "invalid_secret", f"{where} must be an object with key and value")
    key = check_key(item.get("key"))
    value = item.get("value")
    if not isinstance(value, str):
        raise ApiError(400, "invalid_secret", f"{where} ({key}): value must be a string")
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise ApiError(400, "secret_too_large", f"{where} ({key}): value is larger than {MAX_VALUE_BYTES} bytes")
    return SecretValue(key=key, value=value)


def parse_secrets(value: Any) -> list[SecretValue]:
    """A list of `{key, value}` (None: none), keys unique."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiError(400, "invalid_secrets", "secrets must be a list of {key, value}",
                       hint='"secrets": [{"key": "OPENAI_API_KEY", "value": "sk-..."}]')
    if len(value) > MAX_SECRETS:
        raise ApiError(400, "too_many_secrets", f"at most {MAX_SECRETS} secrets per call")
    parsed = [parse_secret(item, f"secrets[{i}]") for i, item in enumerate(value)]
    keys = [s.key for s in parsed]
    duplicate = next((k for k in keys if keys.count(k) > 1), None)
    if duplicate:
        raise ApiError(400, "duplicate_secret", f"{duplicate} appears more than once in secrets")
    return parsed


async def store_secrets(conn: asyncpg.Connection, project_id: str, values: list[SecretValue]) -> None:
    """Set (insert or replace) secrets of a project."""
    await conn.executemany(
        "INSERT INTO sandbox.secrets (project_id, key, value) VALUES ($1, $2, $3) "
        "ON CONFLICT (project_id, key) DO UPDATE SET value = excluded.value, updated_at = now()",
        [(project_id, s.key, s.value) for s in values],
    )


async def secret_env(conn: asyncpg.Connection | asyncpg.Pool, project_id: str) -> dict[str, str]:
    """The environment a function of the project runs with: its secrets."""
    rows = await conn.fetch("SELECT key, value FROM sandbox.secrets WHERE project_id = $1", project_id)
    return {row["key"]: row["value"] for row in rows}


async def secret_names(conn: asyncpg.Connection | asyncpg.Pool, project_id: str) -> list[str]:
    """The names of the project's secrets, sorted."""
    rows = await conn.fetch("SELECT key FROM sandbox.secrets WHERE project_id = $1 ORDER BY key", project_id)
    return [row["key"] for row in rows]
