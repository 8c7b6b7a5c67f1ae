"""A real headless Chromium for tests, driven by Playwright for Python.

Playwright's own browser download cannot work here (offline), so it drives Debian's
Chromium through `executable_path`. Nothing is skipped: when Chromium or Playwright is
missing, a browser test FAILS and says how to install them (`INSTALL_HINT`).

Usage::

    async with chromium_page(tmp_path) as page:
        await page.goto(url)
        ...
        assert page.errors == []       # uncaught exceptions and console errors
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Page

__all__ = ["CHROMIUM_FLAGS", "INSTALL_HINT", "BrowserPage", "chromium_page", "chromium_path", "expect"]

INSTALL_HINT = (
    "Browser tests need Debian's Chromium and Playwright for Python (driving that Chromium):\n"
    "    apt-get update && apt-get install -y chromium\n"
    "    .venv/bin/pip install 'playwright>=1.49'\n"
    "(do NOT run `playwright install`: it downloads a browser, which is impossible offline; "
    "set APPWRIGHT_CHROMIUM to use a Chromium elsewhere than /usr/bin/chromium)"
)
"""What to run when the browser tests fail for want of a browser."""

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--disable-dev-shm-usage",
)
"""Flags for a quiet, offline, root-safe headless Chromium (the profile dir is added per launch)."""

_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")

try:
    from playwright.async_api import expect
except ImportError:  # collected all the same: each browser test then fails with the hint

    def expect(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
        """Stand-in for Playwright's `expect` when Playwright is not installed."""
        pytest.fail(f"Playwright for Python is not installed.\n{INSTALL_HINT}", pytrace=False)


def chromium_path() -> str:
    """The Chromium executable to drive; fails the test with `INSTALL_HINT` if there is none."""
    wanted = os.environ.get("APPWRIGHT_CHROMIUM")
    if wanted:
        if Path(wanted).is_file() and os.access(wanted, os.X_OK):
            return wanted
        pytest.fail(f"APPWRIGHT_CHROMIUM={wanted} is not an executable file.\n{INSTALL_HINT}", pytrace=False)
    for candidate in _CANDIDATES:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    pytest.fail(f"Chromium is not installed.\n{INSTALL_HINT}", pytrace=False)


@dataclass(kw_only=True)
class BrowserPage:
    """A Playwright page plus what went wrong in it."""

    page: Page
    """The Playwright page."""
    errors: list[str] = field(default_factory=list)
    """Uncaught exceptions and console errors, as text."""
    console: list[str] = field(default_factory=list)
    """Every console message, as `type: text`."""
    failed: list[str] = field(default_factory=list)
    """Every answer of 400 or more, as `status METHOD url`."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.page, name)


@asynccontextmanager
async def chromium_page(profile_dir: Path, *, width: int = 1100, height: int = 900) -> AsyncIterator[BrowserPage]:
    """One page of a fresh headless Chromium whose profile lives in `profile_dir`."""
    executable = chromium_path()
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail(f"Playwright for Python is not installed.\n{INSTALL_HINT}", pytrace=False)
    profile_dir.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=executable,
            headless=True,
            args=list(CHROMIUM_FLAGS),
            viewport={"width": width, "height": height},
            timeout=60_000,
        )
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            page.set_default_timeout(15_000)
            wrapped = BrowserPage(page=page)
            page.on("pageerror", lambda error: wrapped.errors.append(f"uncaught: {error}"))
            page.on("console", lambda message: _console(wrapped, message.type, message.text))
            page.on("response", lambda response: _response(wrapped, response))
            yield wrapped
        finally:
            await context.close()


def _response(wrapped: BrowserPage, response: Any) -> None:
    if response.status >= 400:
        wrapped.failed.append(f"{response.status} {response.request.method} {response.url}")


def _console(wrapped: BrowserPage, kind: str, text: str) -> None:
    wrapped.console.append(f"{kind}: {text}")
    if kind == "error":
        wrapped.errors.append(f"console: {text}")
