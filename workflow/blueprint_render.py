"""Rendering a blueprint's site for deployment: `render_site` fills its placeholders.

Text files have their placeholders replaced by values escaped for where they land;
base64 files are passed as they are. The placeholders, the escaping and what is refused
are described in `appwright.workflow.blueprint`, which re-exports `render_site`.
"""

from __future__ import annotations

import html
import json
from pathlib import Path, PurePosixPath

from appwright.steps.sitecheck import key_role

from .blueprint_model import _PLACEHOLDER, Blueprint, BlueprintError, _inlined, _placeholder_problem

__all__ = ["render_site"]

_HTML_SUFFIXES = frozenset({".html", ".htm", ".svg", ".xhtml"})
_JS_SUFFIXES = frozenset({".js", ".mjs", ".json", ".cjs"})


def render_site(bp: Blueprint, *, api_url: str, anon_key: str) -> list[dict[str, str]]:
    """The site's files ready to deploy: ``[{file, data, encoding}]``, placeholders filled.

    Refuses (`BlueprintError`) a file that asks for the service key or an unknown
    placeholder, and an `anon_key` that is in fact a service key.
    """
    if not api_url.startswith(("http://", "https://")):
        raise BlueprintError(f"api_url must be an http(s) URL, not {api_url!r}")
    if key_role(anon_key) == "service_role":
        raise BlueprintError("the key given as anon_key is a service key: it must never be shipped to a browser")
    values = {"API_URL": api_url.rstrip("/"), "ANON_KEY": anon_key, "APP_TITLE": bp.title}
    rendered: list[dict[str, str]] = []
    for index, site_file in enumerate(bp.site):
        data = site_file.data
        if data is None:
            data = _inlined(index, site_file, _source_dir(bp, index), None)["data"]
            assert data is not None
        if site_file.encoding == "utf-8":
            problem = _placeholder_problem(data)
            if problem:
                raise BlueprintError(problem, field=f"site[{index}] ({site_file.file})")
            data = _fill(data, values, PurePosixPath(site_file.file).suffix.lower())
        rendered.append({"file": site_file.file, "data": data, "encoding": site_file.encoding})
    return rendered


def _source_dir(bp: Blueprint, index: int) -> Path:
    if bp._base_dir is None:
        raise BlueprintError(
            "a source file needs the blueprint's folder: load the blueprint with load_blueprint",
            field=f"site[{index}].source",
        )
    return bp._base_dir


def _fill(text: str, values: dict[str, str], suffix: str) -> str:
    def escaped(value: str) -> str:
        if suffix in _HTML_SUFFIXES:
            return html.escape(value, quote=True)
        if suffix in _JS_SUFFIXES:
            inner = json.dumps(value, ensure_ascii=False)[1:-1]
            return inner.replace("'", "\\u0027").replace("`", "\\u0060").replace("</", "<\\/")
        return value

    return _PLACEHOLDER.sub(lambda m: escaped(values[m.group(1)]), text)
