"""The site gate: the anon key only, never the service key, HTML that parses.

Every site path applies it: the site step's `write_site` action and its verify, and the
deploy step right before it sends (with the project's real service key). A site the
deploy step refuses costs nothing and creates no deployment on the sandbox.
"""

from __future__ import annotations

import base64
import dataclasses
import uuid
from typing import Any

import jwt
import pytest
from stepkit import SandboxBackend, backend, ctx, facts  # noqa: F401 (fixtures)

from appwright.steps import DEPLOY, SITE, ActionContext, ActionFailed, VerifyFailed
from appwright.steps.site import SiteOutput
from appwright.steps.sitecheck import SiteRejected, check_site_files

pytestmark = pytest.mark.asyncio(loop_scope="session")

SITE_DEPLOYMENT_MICROS = 50_000

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Notes</title><link rel="stylesheet" href="style.css"></head>
<body>
  <h1>Notes</h1>
  <p>Customer service: write to us.<p>Rows load below.
  <ul id="notes"></ul>
  <script src="app.js"></script>
</body>
</html>
"""
APP_JS = """const API = "{{API_URL}}";
const ANON_KEY = "{{ANON_KEY}}";
fetch(`${API}/rest/v1/notes?select=*`, { headers: { apikey: ANON_KEY } });
"""
SERVICE_ROLE_JWT = jwt.encode({"role": "service_role", "ref": "prj_x"}, "k" * 32)
ANON_ROLE_JWT = jwt.encode({"role": "anon", "ref": "prj_x"}, "k" * 32)


def file(name: str, data: str, *, binary: bool = False) -> dict[str, str]:
    if binary:
        return {"file": name, "data": base64.b64encode(data.encode()).decode(), "encoding": "base64"}
    return {"file": name, "data": data, "encoding": "utf-8"}


def site(**changed: str | dict[str, str] | None) -> list[dict[str, str]]:
    """The good site, with files replaced (a dict or text) or removed (None) by name."""
    files: dict[str, dict[str, str] | None] = {
        "index.html": file("index.html", PAGE), "app.js": file("app.js", APP_JS),
        "style.css": file("style.css", "body { background: #111; color: #eee; }"),
    }
    for name, value in changed.items():
        name = name.replace("_", ".")
        files[name] = file(name, value) if isinstance(value, str) else value
    return [entry for entry in files.values() if entry is not None]


BAD_SITES: dict[str, tuple[list[dict[str, str]], str]] = {
    "no-index": (site(index_html=None), "the site needs an index.html"),
    "no-anon-key": (site(app_js=APP_JS.replace("{{ANON_KEY}}", "")), "no file references the anon key"),
    "anon-key-only-in-a-binary": (
        site(app_js=file("app.js", APP_JS, binary=True)), "only text files are filled in",
    ),
    "service-key-placeholder": (
        site(app_js=APP_JS + 'const ADMIN = "{{SERVICE_KEY}}";\n'), "references the service key (the name 'SERVICE_KEY')",
    ),
    "service-key-identifier": (
        site(app_js=APP_JS + "let serviceKey = null;\n"), "references the service key (the name 'serviceKey')",
    ),
    "service-role-key-in-a-comment": (
        site(app_js=APP_JS + "// TODO: SERVICE_ROLE_KEY for admin pages\n"),
        "references the service key (the name 'SERVICE_ROLE_KEY')",
    ),
    "pasted-service-role-jwt": (
        site(app_js=APP_JS + f'const ADMIN = "{SERVICE_ROLE_JWT}";\n'),
        "references the service key (a key whose role is service_role)",
    ),
    "service-key-in-a-binary-file": (
        site(data_bin=file("data.bin", f"xx{SERVICE_ROLE_JWT}xx", binary=True)), "data.bin references the service key",
    ),
    "unclosed-div": (
        site(index_html=PAGE.replace("</ul>", "</ul><div>")), "<div> is not closed before </body>",
    ),
    "stray-end-tag": (site(index_html=PAGE.replace("</h1>", "</h1></section>")), "</section> closes nothing"),
    "unclosed-script": (
        site(index_html=PAGE.replace('<script src="app.js"></script>', "<script>go()")), "<script> is never closed",
    ),
    "cut-off-in-a-tag": (site(index_html=PAGE.split("<script")[0] + '<script src="app.js"'), "ends inside a tag"),
    "unclosed-comment": (site(index_html=PAGE.replace("<h1>", "<!-- title <h1>")), "ends inside a tag or comment"),
    "not-a-page": (site(index_html="<h1>Notes</h1>"), "has no <html> or <body>"),
    "broken-html-in-base64": (
        site(index_html=file("index.html", PAGE.replace("</ul>", ""), binary=True)), "<ul> is not closed",
    ),
    "not-base64": (site(logo_png={"file": "logo.png", "data": "not base64!", "encoding": "base64"}),
                   "logo.png: data is not valid base64"),
}
bad_sites = pytest.mark.parametrize(("files", "problem"), BAD_SITES.values(), ids=BAD_SITES.keys())


@pytest.fixture
def site_ctx(backend: SandboxBackend) -> ActionContext:
    """The site step's context: it holds no key at all."""
    return ActionContext(backend=backend, facts={"app": {"name": "gates", "title": "Gates"}})


async def write_site(ctx: ActionContext, files: list[dict[str, str]]) -> dict[str, Any]:
    action = SITE.action("write_site")
    return await action.run(ctx, action.args(files=files))


async def deploy(ctx: ActionContext, files: list[dict[str, str]]) -> dict[str, Any]:
    action = DEPLOY.action("deploy_site")
    deploying = dataclasses.replace(
        ctx, facts={**ctx.facts, "site_files": files}, idempotency_key=str(uuid.uuid4()),
    )
    return await action.run(deploying, action.args())


# --- the site step: write_site and verify -------------------------------------------


@bad_sites
async def test_write_site_refuses(site_ctx: ActionContext, files: list[dict[str, str]], problem: str) -> None:
    with pytest.raises(ActionFailed) as caught:
        await write_site(site_ctx, files)
    assert problem in str(caught.value)


@bad_sites
async def test_site_verify_refuses(site_ctx: ActionContext, files: list[dict[str, str]], problem: str) -> None:
    with pytest.raises(VerifyFailed) as caught:
        await SITE.verify(site_ctx, SiteOutput.model_validate({"site_files": files}))
    assert problem in str(caught.value)


async def test_a_good_site_passes_both(site_ctx: ActionContext) -> None:
    # Prose that names a service, an anon key pasted as a value, and a binary file are fine.
    files = site(about_html=PAGE.replace("Notes", f"About ({ANON_ROLE_JWT})"),
                 logo_png=file("logo.png", "\x89PNG...", binary=True))
    written = await write_site(site_ctx, files)
    assert written["files"] == ["index.html", "app.js", "style.css", "about.html", "logo.png"]
    await SITE.verify(site_ctx, SiteOutput.model_validate({"site_files": files}))


async def test_the_real_service_key_is_refused_whatever_its_shape() -> None:
    # A key that is no JWT (another backend's) is still refused verbatim when it is known.
    opaque = "sk_live_4f9a0c2e7b1d"
    files = site(app_js=APP_JS + f'const K = "{opaque}";\n')
    check_site_files(files)  # unknown, it looks like any other string
    with pytest.raises(SiteRejected, match=r"app.js references the service key \(its value\)"):
        check_site_files(files, service_key=opaque)


# --- the deploy step: the last gate before anything is sent --------------------------


async def test_deploy_is_handed_the_service_key_to_check_with() -> None:
    assert "service_key" in DEPLOY.context


async def test_deploy_refuses_a_site_carrying_the_real_service_key(
    ctx: ActionContext, backend: SandboxBackend,
) -> None:
    leaked = site(app_js=APP_JS + f'const ADMIN = "{ctx.facts["service_key"]}";\n')
    paid = await backend.charges()
    with pytest.raises(ActionFailed) as caught:
        await deploy(ctx, leaked)
    message = str(caught.value)
    assert message.startswith("not deployed, nothing was sent or paid: app.js references the service key (its value)")
    assert ctx.facts["service_key"] not in message
    assert await backend.charges() == paid  # no deployment was bought


@bad_sites
async def test_deploy_refuses_what_the_site_step_refuses(
    ctx: ActionContext, backend: SandboxBackend, files: list[dict[str, str]], problem: str,
) -> None:
    paid = await backend.charges()
    with pytest.raises(ActionFailed) as caught:
        await deploy(ctx, files)
    assert problem in str(caught.value) and "the site step must fix it" in str(caught.value)
    assert await backend.charges() == paid


async def test_deploy_sends_a_good_site_with_the_keys_filled_in(ctx: ActionContext, backend: SandboxBackend) -> None:
    deployed = await deploy(ctx, site())
    assert deployed["deployment_id"].startswith("dpl_")
    assert (await backend.charges())[0] == SITE_DEPLOYMENT_MICROS
    status, script = await backend.get(deployed["url"].rstrip("/") + "/app.js")
    assert status == 200
    assert f'const ANON_KEY = "{ctx.facts["anon_key"]}";' in script and "{{" not in script
