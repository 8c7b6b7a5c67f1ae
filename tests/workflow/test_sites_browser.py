"""The bundled blueprints' sites, deployed by hand to the sandbox and used in a real Chromium.

Each blueprint is deployed the way the engine will do it, over HTTP: a new wallet
funded by the faucet, a project paid with x402, each table's SQL through the admin SQL
route, the RLS templates, the seed rows through REST with the service key, and the
rendered site through a paid deployment. The site is then opened at its own origin
(`http://<dpl>.sites.localhost:<port>/`, cross-origin to the API, so CORS is exercised
too) in headless Chromium driven by Playwright, and what a person would do is done by
clicking and typing. What the page shows is checked against the database through REST.

Set APPWRIGHT_SCREENSHOTS=<dir> to keep a screenshot of every page at the end of each test.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
import pytest_asyncio
from browser import BrowserPage, chromium_page, expect
from eth_account import Account
from eth_account.signers.local import LocalAccount

from appwright.platforms.x402pay import paying_client
from appwright.workflow.blueprint import Blueprint, load_blueprint, render_site

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(240)]

PASSWORD = "correct horse battery"


# --- deploying a blueprint by hand ----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Deployed:
    """A blueprint live on the sandbox."""

    blueprint: Blueprint
    api: str
    project: dict[str, Any]
    deployment: dict[str, Any]

    @property
    def url(self) -> str:
        """The site's own origin, e.g. http://dpl_….sites.localhost:PORT/."""
        return str(self.deployment["url"])

    @property
    def project_id(self) -> str:
        return str(self.project["project_id"])

    @property
    def anon_key(self) -> str:
        return str(self.project["anon_key"])

    @property
    def service_key(self) -> str:
        return str(self.project["service_key"])

    async def rest(self, path: str, *, key: str | None = None, bearer: str | None = None) -> httpx.Response:
        """GET /rest/v1/<path> with `key` as apikey (service key by default)."""
        headers = {"apikey": key or self.service_key}
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        async with httpx.AsyncClient(base_url=self.api, timeout=30) as http:
            return await http.get(f"/rest/v1/{path}", headers=headers)

    async def rows(self, path: str) -> list[dict[str, Any]]:
        """Rows read with the service key (bypasses RLS)."""
        answer = await self.rest(path)
        assert answer.status_code == 200, answer.text
        return list(answer.json())

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        """A session of an existing user, from the password grant."""
        async with httpx.AsyncClient(base_url=self.api, timeout=30) as http:
            answer = await http.post("/auth/v1/token", json={"email": email, "password": password},
                                     headers={"apikey": self.anon_key})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


async def deploy_blueprint(api: str, bp: Blueprint) -> Deployed:
    """Deploy `bp` over HTTP as the engine will: pay, create, protect, seed, ship functions, publish."""
    account: LocalAccount = Account.create()
    async with httpx.AsyncClient(base_url=api, timeout=60) as http, paying_client(
        account, max_per_call_micros=200_000, base_url=api, timeout=60
    ) as pay:
        answer = await http.post("/v1/faucet", json={"address": account.address})
        assert answer.status_code == 200, answer.text

        answer = await pay.post("/v1/projects", json={"name": bp.name})
        assert answer.status_code == 201, answer.text
        project = dict(answer.json())
        admin = {"Authorization": f"Bearer {project['service_key']}"}
        pid = project["project_id"]

        for table in bp.tables:
            answer = await http.post(f"/admin/v1/projects/{pid}/sql", content=table.sql.encode(),
                                     headers={**admin, "Content-Type": "text/plain"})
            assert answer.status_code == 200, f"{table.name}: {answer.text}"
        schema = await http.get(f"/admin/v1/projects/{pid}/schema", headers=admin)
        assert schema.status_code == 200, schema.text
        found = {t["name"]: [c["name"] for c in t["columns"]] for t in schema.json()["tables"]}
        for table in bp.tables:
            assert sorted(found.get(table.name, [])) == sorted(table.columns), (table.name, found)

        for rule in bp.rls:
            entry: dict[str, Any] = {"table": rule.table}
            if rule.owner_column:
                entry["owner_column"] = rule.owner_column
            answer = await http.post(f"/admin/v1/projects/{pid}/rls", headers=admin,
                                     json={"template": rule.template, "tables": [entry]})
            assert answer.status_code == 200, f"rls {rule.table}: {answer.text}"

        for seed in bp.seed:
            if not seed.rows:
                continue
            answer = await http.post(f"/rest/v1/{seed.table}", json=seed.rows,
                                     headers={"apikey": project["service_key"]})
            assert answer.status_code == 201, f"seed {seed.table}: {answer.text}"

        for function in bp.functions:
            answer = await http.post(f"/admin/v1/projects/{pid}/functions", headers=admin,
                                     json=function.deployable())
            assert answer.status_code == 201, f"function {function.name}: {answer.text}"

        files = render_site(bp, api_url=api, anon_key=project["anon_key"])
        assert all(project["service_key"] not in f["data"] for f in files)
        answer = await pay.post("/v1/deployments", json={"name": bp.name, "project": pid, "files": files})
        assert answer.status_code == 201, answer.text
        deployment = dict(answer.json())
    return Deployed(blueprint=bp, api=api, project=project, deployment=deployment)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def todo_app(api: str) -> Deployed:
    return await deploy_blueprint(api, load_blueprint("todo"))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def notes_app(api: str) -> Deployed:
    return await deploy_blueprint(api, load_blueprint("notes"))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def poll_app(api: str) -> Deployed:
    return await deploy_blueprint(api, load_blueprint("poll"))


# --- helpers --------------------------------------------------------------------------


def new_email() -> str:
    return f"visitor-{uuid.uuid4().hex[:10]}@example.com"


async def snapshot(page: BrowserPage, name: str) -> None:
    """Keep a screenshot when APPWRIGHT_SCREENSHOTS names a folder."""
    folder = os.environ.get("APPWRIGHT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        await page.page.wait_for_timeout(700)  # let the entrance animations finish
        await page.page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def unexpected(errors: list[str], *allowed: str) -> list[str]:
    """The page's errors, less those matching one of the `allowed` patterns."""
    return [e for e in errors if not any(re.search(pattern, e) for pattern in allowed)]


async def expired_token_like(pg_dsn: str, access_token: str) -> str:
    """The same user's access token, signed by the sandbox, but expired an hour ago."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        secret = str(await conn.fetchval("SELECT value FROM sandbox.meta WHERE key = 'jwt_secret'"))
    finally:
        await conn.close()
    claims = jwt.decode(access_token, options={"verify_signature": False})
    now = int(time.time())
    claims.update(iat=now - 7200, exp=now - 3600)
    return jwt.encode(claims, secret, algorithm="HS256")


# --- todo -----------------------------------------------------------------------------


async def test_todo_page_lists_the_seeded_tasks(todo_app: Deployed, tmp_path: Path) -> None:
    seeded = todo_app.blueprint.seed[0].rows
    stored = await todo_app.rows("todos?select=done")  # other tests of this module may add tasks
    async with chromium_page(tmp_path / "profile") as page:
        await page.goto(todo_app.url)
        items = page.locator("#todos li.todo")
        await expect(items).to_have_count(len(stored))
        # The seeded tasks are the oldest, so they come first (order=created_at.asc).
        for index, row in enumerate(seeded):
            await expect(items.nth(index).locator(".task")).to_have_text(row["task"])
            box = items.nth(index).locator("input[type=checkbox]")
            await (expect(box).to_be_checked() if row["done"] else expect(box).not_to_be_checked())
        done = sum(1 for row in stored if row["done"])
        await expect(page.locator("#summary")).to_have_text(f"{done} of {len(stored)} done")
        await expect(page.page).to_have_title(todo_app.blueprint.title)
        await expect(page.locator("h1")).to_have_text(todo_app.blueprint.title)
        await snapshot(page, "todo")
        assert page.errors == [], page.failed


async def test_todo_add_toggle_delete_persist(todo_app: Deployed, tmp_path: Path) -> None:
    task = f"Call the landlord about the boiler {uuid.uuid4().hex[:6]}"
    async with chromium_page(tmp_path / "profile") as page:
        await page.goto(todo_app.url)
        await expect(page.locator("#todos li.todo").first).to_be_visible()

        await page.fill("#new-task", task)
        await page.click("#add")
        item = page.locator("#todos li.todo", has_text=task)
        await expect(item).to_have_count(1)
        await expect(page.locator("#new-task")).to_have_value("")
        rows = await todo_app.rows(f"todos?task=eq.{task}")
        assert len(rows) == 1 and rows[0]["done"] is False
        # Newest last (order=created_at.asc).
        await expect(page.locator("#todos .task").last).to_have_text(task)

        await item.locator("input[type=checkbox]").click()
        await expect(item).to_have_class(re.compile(r"\bdone\b"))
        await _eventually(lambda: todo_app.rows(f"todos?id=eq.{rows[0]['id']}"), lambda r: r[0]["done"] is True)

        await page.reload()
        await expect(item.locator("input[type=checkbox]")).to_be_checked()

        await item.hover()
        await item.locator(".delete").click()
        await expect(item).to_have_count(0)
        await _eventually(lambda: todo_app.rows(f"todos?id=eq.{rows[0]['id']}"), lambda r: r == [])
        await snapshot(page, "todo-after")
        assert page.errors == [], page.failed


async def test_todo_is_shared_between_visitors(todo_app: Deployed, tmp_path: Path) -> None:
    """A task added in one browser shows up in another one (the list refreshes itself)."""
    task = f"Shared between tabs {uuid.uuid4().hex[:6]}"
    async with chromium_page(tmp_path / "one") as one, chromium_page(tmp_path / "two") as two:
        await one.goto(todo_app.url)
        await two.goto(todo_app.url)
        await expect(two.locator("#todos li.todo").first).to_be_visible()
        await one.fill("#new-task", task)
        await one.press("#new-task", "Enter")
        await expect(one.locator("#todos li.todo", has_text=task)).to_have_count(1)
        await expect(two.locator("#todos li.todo", has_text=task)).to_have_count(1, timeout=20_000)
        assert one.errors == [] and two.errors == [], one.failed + two.failed


# --- notes ----------------------------------------------------------------------------


async def _sign_up(page: BrowserPage, email: str) -> None:
    await page.click("#tab-signup")
    await page.fill("#signup-email", email)
    await page.fill("#signup-password", PASSWORD)
    await page.click("#signup-submit")


async def test_notes_sign_up_create_and_privacy(notes_app: Deployed, tmp_path: Path) -> None:
    email = new_email()
    title, body = "Gate code", f"4821 then the bell twice {uuid.uuid4().hex[:6]}"
    async with chromium_page(tmp_path / "profile") as page:
        await page.goto(notes_app.url)
        await expect(page.locator("#auth")).to_be_visible()
        await expect(page.locator("#app")).to_be_hidden()
        await snapshot(page, "notes-signed-out")

        await _sign_up(page, email)
        await expect(page.locator("#app")).to_be_visible()
        await expect(page.locator("#user-email")).to_have_text(email)
        await expect(page.locator("#empty")).to_be_visible()

        await page.fill("#note-title", title)
        await page.fill("#note-body", body)
        await page.click("#note-save")
        note = page.locator("#notes li.note", has_text=title)
        await expect(note).to_have_count(1)
        await expect(note).to_contain_text(body)
        await snapshot(page, "notes-signed-in")

        stored = json_of(await page.evaluate("localStorage.getItem('pocket-notes.session')"))
        assert stored["access_token"] and stored["refresh_token"] and stored["user"]["email"] == email
        assert page.errors == [], page.failed

    session = await notes_app.login(email)
    user_id = session["user"]["id"]
    mine = await notes_app.rest("notes?select=title,body,user_id", bearer=session["access_token"])
    assert mine.status_code == 200, mine.text
    assert mine.json() == [{"title": title, "body": body, "user_id": user_id}]

    # The owner column may be left out: RLS made auth.uid() its default.
    async with httpx.AsyncClient(base_url=notes_app.api, timeout=30) as http:
        answer = await http.post(
            "/rest/v1/notes", json={"title": "No owner sent"},
            headers={"apikey": notes_app.anon_key, "Authorization": f"Bearer {session['access_token']}",
                     "Prefer": "return=representation"},
        )
    assert answer.status_code == 201, answer.text
    assert answer.json()[0]["user_id"] == user_id

    anonymous = await notes_app.rest("notes?select=title", key=notes_app.anon_key)
    assert anonymous.status_code == 200 and anonymous.json() == []

    async with httpx.AsyncClient(base_url=notes_app.api, timeout=30) as http:
        answer = await http.post("/auth/v1/signup", json={"email": new_email(), "password": PASSWORD},
                                 headers={"apikey": notes_app.anon_key})
        assert answer.status_code == 201, answer.text
    stranger = await notes_app.login(answer.json()["email"])
    theirs = await notes_app.rest("notes?select=title", bearer=stranger["access_token"])
    assert theirs.status_code == 200 and theirs.json() == []


async def test_notes_login_session_refresh_delete_logout(notes_app: Deployed, pg_dsn: str, tmp_path: Path) -> None:
    email = new_email()
    async with httpx.AsyncClient(base_url=notes_app.api, timeout=30) as http:
        answer = await http.post("/auth/v1/signup", json={"email": email, "password": PASSWORD},
                                 headers={"apikey": notes_app.anon_key})
        assert answer.status_code == 201, answer.text

    async with chromium_page(tmp_path / "profile") as page:
        await page.goto(notes_app.url)
        # A wrong password: the server's message is shown.
        await page.fill("#login-email", email)
        await page.fill("#login-password", "not the password")
        await page.click("#login-submit")
        await expect(page.locator("#auth-error")).to_have_text("invalid email or password")

        await page.fill("#login-password", PASSWORD)
        await page.click("#login-submit")
        await expect(page.locator("#app")).to_be_visible()
        for title in ("Groceries", "Book ideas"):
            await page.fill("#note-title", title)
            await page.click("#note-save")
            await expect(page.locator("#notes li.note", has_text=title)).to_have_count(1)

        # The session survives a reload.
        await page.reload()
        await expect(page.locator("#app")).to_be_visible()
        await expect(page.locator("#notes li.note")).to_have_count(2)

        # An expired access token: the page answers the 401 by refreshing, then goes on.
        stored = json_of(await page.evaluate("localStorage.getItem('pocket-notes.session')"))
        stale = await expired_token_like(pg_dsn, stored["access_token"])
        await page.evaluate(
            "([key, token]) => { const s = JSON.parse(localStorage.getItem(key)); s.access_token = token;"
            " localStorage.setItem(key, JSON.stringify(s)); }",
            ["pocket-notes.session", stale],
        )
        await page.reload()
        await expect(page.locator("#notes li.note")).to_have_count(2)
        renewed = json_of(await page.evaluate("localStorage.getItem('pocket-notes.session')"))
        assert renewed["access_token"] != stale
        assert renewed["refresh_token"] != stored["refresh_token"]

        # Delete one note.
        doomed = page.locator("#notes li.note", has_text="Groceries")
        await doomed.hover()
        await doomed.locator(".delete").click()
        await expect(doomed).to_have_count(0)
        session = await notes_app.login(email)
        left = await notes_app.rest("notes?select=title", bearer=session["access_token"])
        assert left.json() == [{"title": "Book ideas"}]

        # Log out: back to the forms, the session is gone, a reload stays signed out.
        await page.click("#logout")
        await expect(page.locator("#auth")).to_be_visible()
        assert await page.evaluate("localStorage.getItem('pocket-notes.session')") is None
        await page.reload()
        await expect(page.locator("#login-form")).to_be_visible()
        # The refused login, the expired token's 401 and the logout's revoked session are expected.
        assert unexpected(page.errors, r"status of (400|401)") == [], page.failed


async def test_notes_refused_refresh_asks_to_log_in_again(notes_app: Deployed, pg_dsn: str, tmp_path: Path) -> None:
    email = new_email()
    async with chromium_page(tmp_path / "profile") as page:
        await page.goto(notes_app.url)
        await _sign_up(page, email)
        await expect(page.locator("#app")).to_be_visible()
        stored = json_of(await page.evaluate("localStorage.getItem('pocket-notes.session')"))
        stale = await expired_token_like(pg_dsn, stored["access_token"])
        await page.evaluate(
            "([key, token]) => localStorage.setItem(key, JSON.stringify({...JSON.parse(localStorage.getItem(key)),"
            " access_token: token, refresh_token: 'used-or-revoked'}))",
            ["pocket-notes.session", stale],
        )
        await page.reload()
        await expect(page.locator("#auth")).to_be_visible()
        await expect(page.locator("#auth-error")).to_have_text("Your session has expired. Please log in again.")
        assert await page.evaluate("localStorage.getItem('pocket-notes.session')") is None


# --- poll -----------------------------------------------------------------------------


def _seeded_counts(bp: Blueprint) -> dict[int, int]:
    counts: dict[int, int] = {}
    for row in next(s for s in bp.seed if s.table == "votes").rows:
        counts[row["option_id"]] = counts.get(row["option_id"], 0) + 1
    return counts


async def test_poll_results_and_guestbook_for_anonymous_visitors(poll_app: Deployed, tmp_path: Path) -> None:
    bp = poll_app.blueprint
    labels = [row["label"] for row in next(s for s in bp.seed if s.table == "options").rows]
    counts = _seeded_counts(bp)
    total = sum(counts.values())
    entries = next(s for s in bp.seed if s.table == "guestbook").rows
    async with chromium_page(tmp_path / "profile") as page:
        await page.goto(poll_app.url)
        options = page.locator("#options .option")
        await expect(options).to_have_count(len(labels))
        await expect(options.locator(".label")).to_have_text(labels)
        for index in range(len(labels)):
            n = counts.get(index + 1, 0)
            await expect(options.nth(index).locator(".count")).to_have_text(
                f"{n} vote{'s' if n != 1 else ''} · {round(100 * n / total)}%")
        await expect(page.locator("#total")).to_have_text(f"{total} votes")
        newest_first = sorted(entries, key=lambda e: e["created_at"], reverse=True)
        await expect(page.locator("#entries .message")).to_have_text([e["message"] for e in newest_first])
        await expect(page.locator("#sign-form")).to_be_hidden()
        await expect(page.locator("#sign-prompt")).to_be_visible()
        await snapshot(page, "poll-anonymous")

        # Voting asks an anonymous visitor to sign up or log in; nothing is written.
        await options.nth(0).click()
        await expect(page.locator("#auth")).to_be_visible()
        await expect(page.locator("#auth-reason")).to_have_text("Sign up or log in to cast your vote.")
        await snapshot(page, "poll-auth")
        await page.click("#auth-close")
        await expect(page.locator("#auth")).to_be_hidden()
        assert len(await poll_app.rows("votes?select=id")) == total
        assert page.errors == [], page.failed


async def test_poll_signed_in_visitor_votes_changes_vote_and_signs(poll_app: Deployed, tmp_path: Path) -> None:
    email = new_email()
    message = f"Count me in for the northern lights {uuid.uuid4().hex[:6]}"
    async with chromium_page(tmp_path / "profile") as page:
        await page.goto(poll_app.url)
        options = page.locator("#options .option")
        await expect(options).to_have_count(4)
        before = {i: await _count(options.nth(i)) for i in range(4)}

        # Vote for Reykjavík as an anonymous visitor: sign up, and the vote is cast.
        await options.nth(3).click()
        await expect(page.locator("#auth")).to_be_visible()
        await _sign_up(page, email)
        await expect(page.locator("#auth")).to_be_hidden()
        await expect(page.locator("#user-email")).to_have_text(email)
        await expect(options.nth(3)).to_have_class(re.compile(r"\bmine\b"))
        await _expect_count(options.nth(3), before[3] + 1)

        session = await poll_app.login(email)
        user_id = session["user"]["id"]
        votes = await poll_app.rows(f"votes?voter=eq.{user_id}&select=option_id,voter")
        assert votes == [{"option_id": 4, "voter": user_id}]

        # Change the vote: still one vote, now for Kyoto.
        await options.nth(1).click()
        await expect(options.nth(1)).to_have_class(re.compile(r"\bmine\b"))
        await expect(options.nth(3)).not_to_have_class(re.compile(r"\bmine\b"))
        await _expect_count(options.nth(1), before[1] + 1)
        await _expect_count(options.nth(3), before[3])
        votes = await poll_app.rows(f"votes?voter=eq.{user_id}&select=option_id")
        assert votes == [{"option_id": 2}]

        # Sign the guestbook.
        await expect(page.locator("#sign-form")).to_be_visible()
        await page.fill("#sign-name", "Alex")
        await page.fill("#sign-message", message)
        await page.click("#sign-submit")
        await expect(page.locator("#entries .entry").first).to_contain_text(message)
        await expect(page.locator("#entries .entry").first.locator(".name")).to_have_text("Alex")
        rows = await poll_app.rows(f"guestbook?message=eq.{message}&select=name,message")
        assert rows == [{"name": "Alex", "message": message}]
        await snapshot(page, "poll-signed-in")

        # Another visitor sees the new entry and the new count.
        async with chromium_page(tmp_path / "other") as other:
            await other.goto(poll_app.url)
            await expect(other.locator("#entries .entry").first).to_contain_text(message)
            await _expect_count(other.locator("#options .option").nth(1), before[1] + 1)
        assert page.errors == [], page.failed

    # Anonymous writes are refused by RLS (public_read): the anon key only reads.
    async with httpx.AsyncClient(base_url=poll_app.api, timeout=30) as http:
        answer = await http.post("/rest/v1/guestbook", json={"name": "x", "message": "y"},
                                 headers={"apikey": poll_app.anon_key})
    assert answer.status_code in (401, 403), answer.text


async def _count(option: Any) -> int:
    text = await option.locator(".count strong").inner_text()
    return int(text)


async def _expect_count(option: Any, n: int) -> None:
    await expect(option.locator(".count strong")).to_have_text(str(n))


# --- the browser helper itself -------------------------------------------------------


async def test_a_missing_chromium_fails_with_the_install_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    import browser

    monkeypatch.setattr(browser, "_CANDIDATES", ())
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("APPWRIGHT_CHROMIUM", raising=False)
    with pytest.raises(pytest.fail.Exception) as caught:
        browser.chromium_path()
    assert "Chromium is not installed" in str(caught.value)
    assert "apt-get install -y chromium" in str(caught.value) and "pip install" in str(caught.value)
    monkeypatch.setenv("APPWRIGHT_CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(pytest.fail.Exception, match="APPWRIGHT_CHROMIUM=/nonexistent/chromium"):
        browser.chromium_path()


# --- small helpers --------------------------------------------------------------------


def json_of(text: Any) -> dict[str, Any]:
    import json

    assert isinstance(text, str), text
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


async def _eventually(read: Any, check: Any, *, timeout: float = 10.0) -> None:
    """Poll `read()` until `check(result)` holds (the page writes asynchronously)."""
    import asyncio

    deadline = time.monotonic() + timeout
    result = await read()
    while not check(result):
        if time.monotonic() > deadline:
            raise AssertionError(f"never became true: {result!r}")
        await asyncio.sleep(0.1)
        result = await read()
