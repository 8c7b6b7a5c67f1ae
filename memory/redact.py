"""Redaction: take secrets out of values before they reach a log or a screen.

Two things give a secret away. Its name: a dict key made of words one of which is
`key`, `token`, `secret`, `password`, `authorization`, ... (`service_key`,
`anonKey`, `x-api-key`, `privateKey`, `apikey`). Its shape: a JWT (`eyJ...`), an
Ethereum private key (`0x` + 64 hex digits), a `Bearer ...` credential, found even
inside longer strings such as error messages.

Names are matched by whole words, not substrings: `keyword`, `monkey` and
`max_tokens` are not secrets; neither is a bare `keys` (usually a list of names),
but `api_keys` is. A few names that contain `key` but are never secret
(`idempotency_key`, `primary_key`) are let through.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "is_secret_key", "redact", "redact_text"]

REDACTED = "[redacted]"
"""What a secret is replaced with."""

_SECRET_WORDS = frozenset(
    {
        "key",
        "token",
        "secret",
        "secrets",
        "password",
        "passwd",
        "passphrase",
        "privatekey",
        "apikey",
        "authorization",
        "credential",
        "credentials",
        "cookie",
        "jwt",
        "mnemonic",
    }
)

# Names built from a secret word that still never hold a secret.
_NOT_SECRET_NAMES = frozenset(
    {"idempotency_key", "primary_key", "primary_keys", "foreign_key", "foreign_keys"}
)

# camelCase, PascalCase, ACRONYMCase, snake_case, kebab-case and dotted names.
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")

_SECRET_SHAPES = (
    # A JWT: base64url of '{"' opens the header, three dot-separated segments.
    re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
    # An Ethereum private key; the lookarounds keep longer hex (signatures) whole.
    re.compile(r"(?<![0-9A-Za-z])0x[0-9a-fA-F]{64}(?![0-9a-fA-F])"),
    # The credential of an Authorization header written out in a string.
    re.compile(r"(?<=Bearer )[A-Za-z0-9._~+/-]+=*", re.IGNORECASE),
)


def is_secret_key(name: str) -> bool:
    """Whether a value stored under `name` must be treated as a secret."""
    words = [word.lower() for word in _WORD.findall(name)]
    if "_".join(words) in _NOT_SECRET_NAMES:
        return False
    # `api_keys` holds keys; a bare `keys` usually lists names (of facts, of columns).
    plural_keys = len(words) > 1 and words[-1] == "keys"
    return plural_keys or any(word in _SECRET_WORDS for word in words)


def redact_text(text: str) -> str:
    """`text` with every JWT, private key and bearer credential in it replaced."""
    for shape in _SECRET_SHAPES:
        text = shape.sub(REDACTED, text)
    return text


def redact(value: Any) -> Any:
    """A copy of a JSON-like `value` with its secrets replaced by `REDACTED`, recursively.

    Dicts, lists and tuples (returned as lists) are walked; strings are scanned for
    secret shapes; other values are returned as they are. Under a secret name,
    `None` and booleans survive (they say whether a secret is set, not what it is).
    """
    if isinstance(value, Mapping):
        return {key: _redact_entry(key, item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def _redact_entry(key: object, value: Any) -> Any:
    if isinstance(key, str) and is_secret_key(key) and not _harmless(value):
        return REDACTED
    return redact(value)


def _harmless(value: Any) -> bool:
    return value is None or isinstance(value, bool)
