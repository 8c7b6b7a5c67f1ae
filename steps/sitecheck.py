"""Gates on site files before anything is sent: the anon key only, HTML that parses.

A site is public: whatever its files hold, anyone can read. So a site may reach the API
with the anon key only, written as the placeholder {{ANON_KEY}} that the engine fills in
at deploy time, and never with the service key, which bypasses row-level security. The
service key is refused in each form it can take in a file: its value (when the caller
holds it: the deploy step does), any key whose JWT claims say ``service_role`` (every
Run402 key is a JWT, so a pasted key is caught without knowing it), and a placeholder or
name that asks for it (``{{SERVICE_KEY}}``, ``serviceKey``, ``SERVICE_ROLE_KEY``).

The same `check_site_files` runs in the site step's `write_site` action and its verify,
and in the deploy step right before the files are sent.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from html.parser import HTMLParser
from typing import Any, Final

__all__ = [
    "SiteRejected", "check_site_files", "ANON_KEY", "API_URL", "fill_placeholders",
    "service_key_reference", "key_role",
]

ANON_KEY = "{{ANON_KEY}}"
"""Placeholder the engine replaces with the project's anon key at deploy time."""
API_URL = "{{API_URL}}"
"""Placeholder the engine replaces with the API base at deploy time."""

# Names and placeholders that ask for the service key: service_key, serviceKey,
# SERVICE-KEY, service_role, SERVICE_ROLE_KEY, {{SERVICE_KEY}}... (not a word inside another).
_SERVICE_NAME: Final = re.compile(r"(?<![a-z0-9])service[_-]?(?:role(?:[_-]?key)?|key)", re.IGNORECASE)
# Anything shaped like a JWT: header.payload.signature, each base64url.
_JWT: Final = re.compile(r"eyJ[0-9A-Za-z_-]{8,}\.([0-9A-Za-z_-]{8,})\.[0-9A-Za-z_-]+")

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_OPTIONAL_END = {"p", "li", "dt", "dd", "option", "tr", "td", "th", "thead", "tbody", "tfoot", "colgroup",
                 "optgroup", "rb", "rt", "rp", "html", "head", "body"}


class SiteRejected(ValueError):
    """A site file breaks a rule; the message names the file and the rule."""


def check_site_files(files: list[dict[str, Any]], *, service_key: str | None = None) -> None:
    """Refuse a site without index.html or the anon key, or with a file that breaks a rule.

    `service_key`, when given, is the project's real service key, refused verbatim too.
    """
    if "index.html" not in {f.get("file") for f in files}:
        raise SiteRejected("the site needs an index.html")
    for entry in files:
        _check_file(entry, service_key)
    # Only text files get their placeholders filled, so only they can carry the anon key.
    if not any(ANON_KEY in entry["data"] for entry in files if not _is_base64(entry)):
        raise SiteRejected(f"no file references the anon key: use the placeholder {ANON_KEY} where the app calls the API")


def fill_placeholders(files: list[dict[str, Any]], *, api_url: str, anon_key: str) -> list[dict[str, Any]]:
    """The files with the API base and the anon key written in."""
    filled = []
    for entry in files:
        if _is_base64(entry):
            filled.append(dict(entry))
            continue
        data = entry["data"].replace(API_URL, api_url).replace(ANON_KEY, anon_key)
        filled.append({**entry, "data": data})
    return filled


def _check_file(entry: dict[str, Any], service_key: str | None) -> None:
    name, text = entry["file"], _text(entry)
    _no_service_key(name, text, service_key)
    if _is_base64(entry) and (ANON_KEY in text or API_URL in text):
        raise SiteRejected(f"{name} holds a placeholder, but only text files are filled in: send it as utf-8, not base64")
    if name.lower().endswith((".html", ".htm")):
        _html_parses(name, text)


def _is_base64(entry: dict[str, Any]) -> bool:
    return entry.get("encoding", "utf-8") == "base64"


def _text(entry: dict[str, Any]) -> str:
    if _is_base64(entry):
        try:
            return base64.b64decode(entry["data"], validate=True).decode("utf-8", errors="replace")
        except ValueError:
            raise SiteRejected(f"{entry['file']}: data is not valid base64") from None
    return str(entry["data"])


def _no_service_key(name: str, text: str, service_key: str | None) -> None:
    found = service_key_reference(text, service_key)
    if found:
        raise SiteRejected(
            f"{name} references the service key ({found}); a site is public, so it may only use the anon key: "
            f"write the placeholder {ANON_KEY} and remove every mention of the service key, comments included"
        )


def service_key_reference(text: str, service_key: str | None = None) -> str | None:
    """How `text` refers to the service key, in words (never the key itself), or None."""
    if service_key and service_key in text:
        return "its value"
    if any(_jwt_role(token) == "service_role" for token in _JWT.finditer(text)):
        return "a key whose role is service_role"
    named = _SERVICE_NAME.search(text)
    return f"the name {named.group(0)!r}" if named else None


def key_role(key: str) -> str | None:
    """The `role` claim of a Run402 key (a JWT), or None for anything else."""
    token = _JWT.fullmatch(key.strip())
    return _jwt_role(token) if token else None


def _jwt_role(token: re.Match[str]) -> str | None:
    """The `role` claim of a JWT-shaped token (unverified: only the claim is wanted)."""
    payload = token.group(1)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    role = claims.get("role") if isinstance(claims, dict) else None
    return role if isinstance(role, str) else None


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if tag not in self.stack:
            self.problems.append(f"</{tag}> closes nothing (line {self.getpos()[0]})")
            return
        while self.stack:
            open_tag = self.stack.pop()
            if open_tag == tag:
                return
            if open_tag not in _OPTIONAL_END:
                self.problems.append(f"<{open_tag}> is not closed before </{tag}> (line {self.getpos()[0]})")


def _html_parses(name: str, text: str) -> None:
    parser = _Balance()
    parser.feed(text)
    # What feed() could not finish waits in rawdata; close() would pass it on as text, so a
    # page cut off inside a tag or a comment would look whole.
    if parser.rawdata.lstrip().startswith("<"):
        raise SiteRejected(f"{name} is not well-formed HTML: it ends inside a tag or comment "
                           f"({_excerpt(parser.rawdata)})")
    parser.close()
    unclosed = [t for t in parser.stack if t not in _OPTIONAL_END]
    problems = parser.problems + [f"<{t}> is never closed" for t in unclosed]
    if problems:
        raise SiteRejected(f"{name} is not well-formed HTML: " + "; ".join(problems[:3]))
    if "<html" not in text.lower() and "<body" not in text.lower():
        raise SiteRejected(f"{name} has no <html> or <body>: write a whole page")


def _excerpt(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + " …"
