"""Redaction of secrets by name and by shape."""

from __future__ import annotations

import pytest
from appwright.memory import REDACTED, is_secret_key, redact, redact_text

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoiYW5vbiJ9.dGhpcyBpcyBub3QgYSBzaWc"
PRIVATE_KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe512961708279f2e3e8a5d4b8e3e5c1"


@pytest.mark.parametrize(
    "name",
    [
        "service_key",
        "anon_key",
        "anonKey",
        "privateKey",
        "PRIVATE_KEY",
        "apikey",
        "api_key",
        "x-api-key",
        "APIKey",
        "access_token",
        "accessToken",
        "jwtSecret",
        "JWT_SECRET",
        "password",
        "Authorization",
        "authorization",
        "key",
        "secrets",
        "refresh-token",
        "cookie",
        "api_keys",
        "serviceKeys",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_key(name)


@pytest.mark.parametrize(
    "name",
    [
        "project_id",
        "keyword",
        "monkey",
        "max_tokens",
        "input_tokens",
        "keys",
        "idempotency_key",
        "Idempotency-Key",
        "primary_key",
        "tables_created",
        "tokenizer",
        "schema",
    ],
)
def test_names_that_are_not_secret(name: str) -> None:
    assert not is_secret_key(name)


def test_jwts_are_redacted_alone_and_inside_text() -> None:
    assert redact(JWT) == REDACTED
    assert redact_text(f"401: token {JWT} expired") == f"401: token {REDACTED} expired"
    assert redact_text(f"GET /rest?apikey={JWT}&x=1") == f"GET /rest?apikey={REDACTED}&x=1"


def test_private_keys_are_redacted_but_longer_hex_is_not() -> None:
    assert redact(PRIVATE_KEY) == REDACTED
    assert redact_text(f"wallet {PRIVATE_KEY}.") == f"wallet {REDACTED}."
    signature = "0x" + "ab" * 65  # 130 hex digits: a signature, not a key
    assert redact(signature) == signature
    short = "0x" + "ab" * 20  # an address
    assert redact(short) == short


def test_bearer_credentials_are_redacted() -> None:
    assert (
        redact_text("Authorization: Bearer sk_live_abc.def") == f"Authorization: Bearer {REDACTED}"
    )


def test_nested_dicts_and_lists_are_walked() -> None:
    value = {
        "request": {
            "headers": {"Authorization": "Bearer abc", "Content-Type": "text/plain"},
            "body": "CREATE TABLE todos (id uuid)",
        },
        "keys": [{"anon_key": "a1", "name": "anon"}, JWT, ("tuple", PRIVATE_KEY)],
        "wallet": {"address": "0x" + "12" * 20, "privateKey": PRIVATE_KEY},
        "count": 3,
    }
    assert redact(value) == {
        "request": {
            "headers": {"Authorization": REDACTED, "Content-Type": "text/plain"},
            "body": "CREATE TABLE todos (id uuid)",
        },
        "keys": [{"anon_key": REDACTED, "name": "anon"}, REDACTED, ["tuple", REDACTED]],
        "wallet": {"address": "0x" + "12" * 20, "privateKey": REDACTED},
        "count": 3,
    }


def test_whole_values_under_secret_names_go_but_none_and_bools_stay() -> None:
    assert redact({"secrets": {"a": 1}, "api_key": 12345, "token": None, "password": False}) == {
        "secrets": REDACTED,
        "api_key": REDACTED,
        "token": None,
        "password": False,
    }


def test_redact_does_not_change_its_input() -> None:
    value = {"service_key": "s", "list": [JWT]}
    redact(value)
    assert value == {"service_key": "s", "list": [JWT]}
