"""Gates on site files before anything is sent: the anon key only, HTML that parses."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from typing import Any

__all__ = ["SiteRejected", "check_site_files", "ANON_KEY", "API_URL", "fill_placeholders"]

ANON_KEY = "{{ANON_KEY}}"
"""Placeholder the engine replaces with the project's anon key at deploy time."""
API_URL = "{{API_URL}}"
"""Placeholder the engine replaces with the API base at deploy time."""

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_OPTIONAL_END = {"p", "li", "dt", "dd", "option", "tr", "td", "th", "thead", "tbody", "tfoot", "colgroup",
                 "optgroup", "rb", "rt", "rp", "html", "head", "body"}


class SiteRejected(ValueError):
    """A site file breaks a rule; the message names the file and the rule."""


def check_site_files(files: list[dict[str, Any]], *, service_key: str | None = None) -> None:
    """Refuse files that leak the service key, miss index.html, or hold HTML that does not parse."""
    names = {f.get("file") for f in files}
    if "index.html" not in names:
        raise SiteRejected("the site needs an index.html")
    uses_anon = False
    for entry in files:
        text = _text(entry)
        _no_service_key(entry["file"], text, service_key)
        uses_anon = uses_anon or ANON_KEY in text
        if entry["file"].endswith((".html", ".htm")):
            _html_parses(entry["file"], text)
    if not uses_anon:
        raise SiteRejected(f"no file references the anon key: use the placeholder {ANON_KEY} where the app calls the API")


def fill_placeholders(files: list[dict[str, Any]], *, api_url: str, anon_key: str) -> list[dict[str, Any]]:
    """The files with the API base and the anon key written in."""
    filled = []
    for entry in files:
        if entry.get("encoding", "utf-8") == "base64":
            filled.append(dict(entry))
            continue
        data = entry["data"].replace(API_URL, api_url).replace(ANON_KEY, anon_key)
        filled.append({**entry, "data": data})
    return filled


def _text(entry: dict[str, Any]) -> str:
    if entry.get("encoding", "utf-8") == "base64":
        try:
            return base64.b64decode(entry["data"], validate=True).decode("utf-8", errors="replace")
        except ValueError:
            raise SiteRejected(f"{entry['file']}: data is not valid base64") from None
    return str(entry["data"])


def _no_service_key(name: str, text: str, service_key: str | None) -> None:
    if "{{SERVICE_KEY}}" in text or "service_key" in text.lower() or (service_key and service_key in text):
        raise SiteRejected(
            f"{name} references the service key; a site is public, so it may only use the anon key ({ANON_KEY})"
        )


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
    parser.close()
    unclosed = [t for t in parser.stack if t not in _OPTIONAL_END]
    problems = parser.problems + [f"<{t}> is never closed" for t in unclosed]
    if problems:
        raise SiteRejected(f"{name} is not well-formed HTML: " + "; ".join(problems[:3]))
    if "<html" not in text.lower() and "<body" not in text.lower():
        raise SiteRejected(f"{name} has no <html> or <body>: write a whole page")
