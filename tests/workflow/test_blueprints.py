"""The blueprint format: the bundled blueprints, validation with named fields, rendering."""

from __future__ import annotations

import base64
import copy
import json
import re
from pathlib import Path
from typing import Any

import jwt
import pytest

from appwright.workflow.blueprint import (
    PLACEHOLDERS,
    Blueprint,
    BlueprintError,
    RlsSpec,
    SeedSpec,
    SiteFile,
    TableSpec,
    bundled_blueprints,
    load_blueprint,
    render_site,
    validate_blueprint,
)

BUNDLED = ["notes", "photos", "poll", "tasks", "todo"]
API = "http://127.0.0.1:8402"
ANON = jwt.encode({"iss": "appwright-sandbox", "ref": "prj_1", "role": "anon"}, "s" * 32, algorithm="HS256")
SERVICE = jwt.encode({"iss": "appwright-sandbox", "ref": "prj_1", "role": "service_role"}, "s" * 32, algorithm="HS256")


def valid() -> dict[str, Any]:
    """A small valid blueprint, fresh each call, to break one field at a time."""
    return {
        "name": "tiny-app",
        "title": "Tiny",
        "description": "A tiny app.",
        "tables": [
            {"name": "items", "sql": "CREATE TABLE items (id serial PRIMARY KEY, title text, user_id uuid)",
             "columns": ["id", "title", "user_id"]},
            {"name": "tags", "sql": "CREATE TABLE tags (id serial PRIMARY KEY, label text NOT NULL)",
             "columns": ["id", "label"]},
        ],
        "rls": [{"table": "items", "template": "user_owns_rows", "owner_column": "user_id"}],
        "seed": [{"table": "tags", "rows": [{"label": "red"}, {"label": "blue"}]}],
        "site": [
            {"file": "index.html", "data": "<title>{{APP_TITLE}}</title><script type=module src=app.js></script>"},
            {"file": "app.js", "data": 'const API = "{{API_URL}}"; const KEY = "{{ANON_KEY}}";'},
        ],
        "answers": {"plan": "yes", "feedback": "Looks great!"},
        "feedback": "Nice.",
    }


def refused(data: dict[str, Any]) -> str:
    with pytest.raises(BlueprintError) as caught:
        validate_blueprint(data, file="tiny.json")
    message = str(caught.value)
    assert message.startswith("tiny.json: "), message
    return message


# --- the bundled blueprints -----------------------------------------------------------


def test_bundled_blueprints_are_listed() -> None:
    assert bundled_blueprints() == BUNDLED


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_blueprint_loads_and_validates(name: str) -> None:
    bp = load_blueprint(name)
    assert bp.name == name
    assert {f.file for f in bp.site} >= {"index.html", "app.js", "style.css"}
    assert all(f.data and f.source is None for f in bp.site), "sources are read at load time"
    again = Blueprint.model_validate(json.loads(bp.model_dump_json()))
    assert again.model_dump() == bp.model_dump(), "a loaded blueprint is self-contained"
    assert render_site(again, api_url=API, anon_key=ANON) == render_site(bp, api_url=API, anon_key=ANON)
    assert bp.answers.get("plan") == "yes" and bp.feedback
    for table in bp.tables:
        assert table.name in table.sql
    # No external resources: the machine that serves the site may be offline.
    for site_file in bp.site:
        text = site_file.data or ""
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), site_file.file
        assert not re.search(r"""url\(\s*["']?(https?:)?//|@import\s+["']?(url\()?["']?(https?:)?//""", text)
        assert not re.search(r"""\bfrom\s+["'](https?:)?//|import\(\s*["'](https?:)?//""", text)
        assert "service" not in re.sub(r"[^a-z]", "", " ".join(re.findall(r"\{\{[^}]*\}\}", text)).lower())
    index = next(f.data for f in bp.site if f.file == "index.html")
    assert index is not None and '<script type="module" src="app.js">' in index
    assert "{{APP_TITLE}}" in index


def test_todo_blueprint() -> None:
    bp = load_blueprint("todo")
    todos = bp.table("todos")
    assert todos.columns == ["id", "task", "done", "created_at"]
    assert "gen_random_uuid()" in todos.sql and "DEFAULT false" in todos.sql
    assert [(r.table, r.template) for r in bp.rls] == [("todos", "public_read_write")]
    rows = bp.seed[0].rows
    assert bp.seed[0].table == "todos" and 5 <= len(rows) <= 8
    app = _site(bp, "app.js")
    assert "order=created_at.asc" in app and "PATCH" in app and "DELETE" in app and "id=eq." in app
    assert "apikey: ANON_KEY" in app


def test_notes_blueprint() -> None:
    bp = load_blueprint("notes")
    assert bp.table("notes").columns == ["id", "user_id", "title", "body", "created_at"]
    assert [(r.table, r.template, r.owner_column) for r in bp.rls] == [("notes", "user_owns_rows", "user_id")]
    # Rows without an owner would be invisible to everyone under user_owns_rows.
    assert all(row.get("user_id") is None for seed in bp.seed for row in seed.rows)
    assert "invisible" in bp.description
    app = _site(bp, "app.js")
    for needle in ("/auth/v1/signup", "/auth/v1/token", "grant_type=refresh_token", "localStorage",
                   "Authorization", "Bearer", "apikey: ANON_KEY", "/auth/v1/logout", "status !== 401"):
        assert needle in app, needle
    index = _site(bp, "index.html")
    assert 'id="signup-form"' in index and 'id="login-form"' in index and 'id="logout"' in index


def test_poll_blueprint() -> None:
    bp = load_blueprint("poll")
    assert [t.name for t in bp.tables] == ["options", "votes", "guestbook"]
    assert bp.table("options").columns == ["id", "label"] and "serial" in bp.table("options").sql
    assert bp.table("guestbook").columns == ["id", "name", "message", "created_at"]
    assert {(r.table, r.template) for r in bp.rls} == {
        ("options", "public_read"), ("votes", "public_read"), ("guestbook", "public_read"),
    }
    seeded = {seed.table: len(seed.rows) for seed in bp.seed}
    assert seeded["options"] >= 3 and seeded["guestbook"] >= 3 and seeded["votes"] >= 1
    options = len(next(s for s in bp.seed if s.table == "options").rows)
    assert all(1 <= row["option_id"] <= options for row in next(s for s in bp.seed if s.table == "votes").rows)


def _site(bp: Blueprint, file: str) -> str:
    data = next(f.data for f in bp.site if f.file == file)
    assert isinstance(data, str)
    return data


def test_every_field_is_documented() -> None:
    for model in (Blueprint, TableSpec, RlsSpec, SeedSpec, SiteFile):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name}"


# --- validation -----------------------------------------------------------------------


def test_the_base_blueprint_is_valid() -> None:
    bp = validate_blueprint(valid())
    assert bp.subdomain == "tiny-app", "the subdomain defaults to the name"


@pytest.mark.parametrize("name", ["Tiny", "ab", "-tiny", "tiny-", "tiny_app", "a" * 41, "tiny app"])
def test_bad_name(name: str) -> None:
    data = valid() | {"name": name}
    assert "name: " in refused(data)


@pytest.mark.parametrize("subdomain, why", [
    ("api", "reserved"), ("www", "reserved"), ("my--app", "'--'"), ("-app", "start and end"),
    ("ab", "3-63"), ("My-App", "lowercase"), ("a" * 64, "3-63"),
])
def test_bad_subdomain(subdomain: str, why: str) -> None:
    message = refused(valid() | {"subdomain": subdomain})
    assert "subdomain: " in message and why in message


def test_a_reserved_name_is_refused_as_the_default_subdomain() -> None:
    assert "subdomain: 'admin' is reserved" in refused(valid() | {"name": "admin"})


def test_rls_on_an_undeclared_table() -> None:
    data = valid()
    data["rls"].append({"table": "ghosts", "template": "public_read"})
    message = refused(data)
    assert "rls[1].table: " in message and "'ghosts' is not declared" in message


def test_owner_column_is_required_by_user_owns_rows() -> None:
    data = valid()
    del data["rls"][0]["owner_column"]
    assert "rls[0].owner_column: required by the user_owns_rows template" in refused(data)


def test_owner_column_only_with_user_owns_rows() -> None:
    data = valid()
    data["rls"][0]["template"] = "public_read"
    assert "rls[0].owner_column: " in refused(data)


def test_owner_column_must_be_a_column() -> None:
    data = valid()
    data["rls"][0]["owner_column"] = "owner"
    assert "rls[0].owner_column: 'owner' is not a column of 'items'" in refused(data)


def test_unknown_rls_template() -> None:
    data = valid()
    data["rls"][0]["template"] = "private"
    assert "rls[0].template: " in refused(data)


def test_a_table_with_two_rls_entries() -> None:
    data = valid()
    data["rls"].append({"table": "items", "template": "public_read"})
    assert "rls[1].table: " in refused(data)


def test_seed_key_not_a_column() -> None:
    data = valid()
    data["seed"][0]["rows"].append({"label": "green", "colour": "#0f0"})
    message = refused(data)
    assert "seed[0].rows[2]: 'colour' not a column of 'tags'" in message


def test_seed_on_an_undeclared_table() -> None:
    data = valid()
    data["seed"].append({"table": "ghosts", "rows": [{"id": 1}]})
    assert "seed[1].table: " in refused(data)


def test_two_statements_in_sql() -> None:
    data = valid()
    data["tables"][1]["sql"] = "CREATE TABLE tags (id serial, label text); DROP TABLE items;"
    assert "tables[1].sql: expected exactly one statement (one CREATE TABLE), found 2" in refused(data)


@pytest.mark.parametrize("sql, found", [
    ("CREATE INDEX tags_label ON tags (label)", "IndexStmt"),
    ("SELECT 1", "SelectStmt"),
    ("CREATE TABLE tags AS SELECT 1 AS id, 'x' AS label", "CreateTableAsStmt"),
    ("INSERT INTO tags (label) VALUES ('x')", "InsertStmt"),
])
def test_sql_that_is_not_create_table(sql: str, found: str) -> None:
    data = valid()
    data["tables"][1]["sql"] = sql
    message = refused(data)
    assert "tables[1].sql: expected a CREATE TABLE statement" in message and found in message


def test_sql_for_another_table() -> None:
    data = valid()
    data["tables"][1]["sql"] = "CREATE TABLE labels (id serial, label text)"
    assert "tables[1].sql: creates table 'labels', not 'tags'" in refused(data)


def test_sql_with_a_schema_or_temporary() -> None:
    data = valid()
    data["tables"][1]["sql"] = "CREATE TABLE public.tags (id serial, label text)"
    assert "tables[1].sql: name the table without a schema" in refused(data)
    data["tables"][1]["sql"] = "CREATE TEMP TABLE tags (id serial, label text)"
    assert "tables[1].sql: a TEMPORARY table" in refused(data)


def test_sql_syntax_error() -> None:
    data = valid()
    data["tables"][0]["sql"] = "CREATE TABL items (id int)"
    assert "tables[0].sql: does not parse: syntax error" in refused(data)


def test_columns_must_match_the_sql() -> None:
    data = valid()
    data["tables"][1]["columns"] = ["id", "label", "colour"]
    assert "tables[1].columns: not defined by the sql: colour" in refused(data)
    data["tables"][1]["columns"] = ["id"]
    assert "tables[1].columns: defined by the sql but not listed: label" in refused(data)


def test_duplicate_tables() -> None:
    data = valid()
    data["tables"].append(copy.deepcopy(data["tables"][1]))
    assert "tables[2].name: table 'tags' is declared twice" in refused(data)


def test_missing_index_html() -> None:
    data = valid()
    data["site"] = [f for f in data["site"] if f["file"] != "index.html"]
    assert "site: the site has no index.html" in refused(data)


@pytest.mark.parametrize("path", ["../index.html", "assets/../../x.js", "/etc/passwd", "a//b.js", "./x/./y.js",
                                  "C:/x.js", "a\\b.js", ""])
def test_site_file_paths(path: str) -> None:
    data = valid()
    data["site"].append({"file": path, "data": "x"})
    assert "site[2].file: " in refused(data)


def test_both_data_and_source() -> None:
    data = valid()
    data["site"][1]["source"] = "app.js"
    assert "site[1]: give exactly one of data and source, not both" in refused(data)
    del data["site"][1]["source"]
    del data["site"][1]["data"]
    assert "site[1]: give exactly one of data and source" in refused(data)


def test_service_key_placeholder_is_refused() -> None:
    for spelling in ("{{SERVICE_KEY}}", "{{ service_key }}", "{{serviceKey}}"):
        data = valid()
        data["site"][1]["data"] = f'const KEY = "{spelling}";'
        message = refused(data)
        assert "site[1].data: in app.js: " in message and "service key" in message and "never" in message


def test_the_text_service_key_is_refused() -> None:
    data = valid()
    data["site"][1]["data"] = "const headers = { apikey: project.SERVICE_KEY };"
    assert "site[1].data: in app.js: refers to the service key (the name 'SERVICE_KEY')" in refused(data)


def test_a_pasted_service_role_key_is_refused() -> None:
    data = valid()
    claims = base64.urlsafe_b64encode(json.dumps({"role": "service_role", "project_id": "prj_1"}).encode())
    key = "eyJhbGciOiJIUzI1NiJ9." + claims.decode().rstrip("=") + ".c2lnbmF0dXJl"
    data["site"][1]["data"] = f'const KEY = "{key}";'
    assert "a key whose role is service_role" in refused(data)


def test_unknown_placeholder_is_refused() -> None:
    data = valid()
    data["site"][0]["data"] += "{{PROJECT_ID}}"
    assert "site[0].data: in index.html: unknown placeholder {{PROJECT_ID}}" in refused(data)


def test_answers_are_keyed_by_step() -> None:
    data = valid()
    data["answers"]["plann"] = "yes"
    assert "answers: 'plann' is not a step id" in refused(data)
    data["answers"] = {"plan.confirm": "yes", "subdomain": "tiny"}
    validate_blueprint(data)


def test_unknown_fields_and_bad_base64() -> None:
    data = valid()
    data["tables"][0]["primary_key"] = "id"
    assert "tables[0].primary_key: Extra inputs are not permitted" in refused(data)
    data = valid()
    data["site"].append({"file": "logo.png", "data": "not base64!", "encoding": "base64"})
    assert "site[2].data: not valid base64" in refused(data)


def test_several_problems_name_the_first_and_count_the_rest() -> None:
    data = valid() | {"name": "X", "title": ""}
    message = refused(data)
    assert re.search(r"\(and \d+ more problems?\)$", message)


# --- loading --------------------------------------------------------------------------


def test_unknown_bundled_name_lists_the_bundled_ones() -> None:
    with pytest.raises(BlueprintError) as caught:
        load_blueprint("chat")
    assert "no bundled blueprint 'chat'" in str(caught.value)
    for name in BUNDLED:
        assert name in str(caught.value)


def _write(folder: Path, data: dict[str, Any], files: dict[str, bytes] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    path = folder / "app.json"
    path.write_text(json.dumps(data))
    return path


def test_load_by_path_reads_sources_beside_the_file(tmp_path: Path) -> None:
    data = valid()
    data["site"] = [
        {"file": "index.html", "source": "web/index.html"},
        {"file": "app.js", "source": "web/app.js"},
        {"file": "img/dot.png", "source": "web/dot.png", "encoding": "base64"},
    ]
    png = b"\x89PNG\r\n\x1a\n\x00\x00binary"
    path = _write(tmp_path / "bp", data, {
        "web/index.html": b"<title>{{APP_TITLE}}</title>",
        "web/app.js": b'const API = "{{API_URL}}";',
        "web/dot.png": png,
    })
    bp = load_blueprint(str(path))
    assert [f.file for f in bp.site] == ["index.html", "app.js", "img/dot.png"]
    assert bp.site[1].data == 'const API = "{{API_URL}}";' and bp.site[1].source is None
    assert base64.b64decode(bp.site[2].data or "") == png


def test_load_by_path_names_the_file_in_errors(tmp_path: Path) -> None:
    data = valid()
    data["tables"][1]["sql"] = "CREATE TABLE tags (id int); CREATE TABLE more (id int);"
    path = _write(tmp_path, data)
    with pytest.raises(BlueprintError) as caught:
        load_blueprint(str(path))
    assert str(caught.value).startswith(f"{path}: tables[1].sql: expected exactly one statement")
    assert caught.value.file == str(path) and caught.value.field == "tables[1].sql"


def test_missing_source_file(tmp_path: Path) -> None:
    data = valid()
    data["site"][1] = {"file": "app.js", "source": "app.js"}
    path = _write(tmp_path, data)
    with pytest.raises(BlueprintError, match=r"site\[1\]\.source: cannot read"):
        load_blueprint(str(path))


def test_source_outside_the_folder_is_refused(tmp_path: Path) -> None:
    data = valid()
    data["site"][1] = {"file": "app.js", "source": "../secrets.js"}
    path = _write(tmp_path / "bp", data)
    with pytest.raises(BlueprintError, match=r"site\[1\]\.source: .*'\.\.' is not allowed"):
        load_blueprint(str(path))


def test_a_source_with_a_service_key_placeholder_is_refused_at_load(tmp_path: Path) -> None:
    data = valid()
    data["site"][1] = {"file": "app.js", "source": "app.js"}
    path = _write(tmp_path, data, {"app.js": b'const KEY = "{{SERVICE_KEY}}";'})
    with pytest.raises(BlueprintError, match=r"site\[1\]\.data: in app\.js: .*service key"):
        load_blueprint(str(path))


def test_bad_json_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"name": "x",\n  oops}')
    with pytest.raises(BlueprintError, match=r"broken\.json: not valid JSON: .* line 2"):
        load_blueprint(str(path))
    with pytest.raises(BlueprintError, match=r"nothing\.json: no such file"):
        load_blueprint(str(tmp_path / "nothing.json"))
    path.write_text("[1, 2]")
    with pytest.raises(BlueprintError, match="a blueprint is a JSON object"):
        load_blueprint(str(path))


# --- rendering ------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUNDLED)
def test_render_site_fills_placeholders(name: str) -> None:
    bp = load_blueprint(name)
    files = render_site(bp, api_url=API + "/", anon_key=ANON)
    assert [f["file"] for f in files] == [f.file for f in bp.site]
    assert all(set(f) == {"file", "data", "encoding"} for f in files)
    text = "\n".join(f["data"] for f in files)
    assert not re.search(r"\{\{\s*\w+\s*\}\}", text), "every placeholder is filled"
    app = next(f["data"] for f in files if f["file"] == "app.js")
    assert f'const API = "{API}";' in app, "the API base, without a trailing slash"
    assert f'const ANON_KEY = "{ANON}";' in app
    index = next(f["data"] for f in files if f["file"] == "index.html")
    assert f"<title>{bp.title}</title>" in index
    assert SERVICE not in text and "service_role" not in text


def test_render_site_escapes_for_html_and_js() -> None:
    data = valid() | {"title": 'Tom\'s "<b>best</b>" app'}
    data["site"][1]["data"] = "const TITLE = \"{{APP_TITLE}}\"; const T2 = '{{APP_TITLE}}';"
    data["site"].append({"file": "style.css", "data": "/* {{APP_TITLE}} */"})
    files = {f["file"]: f["data"] for f in render_site(validate_blueprint(data), api_url=API, anon_key=ANON)}
    assert "<title>Tom&#x27;s &quot;&lt;b&gt;best&lt;/b&gt;&quot; app</title>" in files["index.html"]
    assert files["app.js"] == (
        'const TITLE = "Tom\\u0027s \\"<b>best<\\/b>\\" app"; const T2 = \'Tom\\u0027s \\"<b>best<\\/b>\\" app\';'
    )
    assert files["style.css"] == '/* Tom\'s "<b>best</b>" app */'


def test_render_site_keeps_binary_files() -> None:
    data = valid()
    blob = base64.b64encode(b"{{ANON_KEY}}\x00\xff").decode()
    data["site"].append({"file": "blob.bin", "data": blob, "encoding": "base64"})
    files = render_site(validate_blueprint(data), api_url=API, anon_key=ANON)
    assert files[-1] == {"file": "blob.bin", "data": blob, "encoding": "base64"}


def test_render_site_refuses_a_service_key_as_anon_key() -> None:
    with pytest.raises(BlueprintError, match="is a service key"):
        render_site(load_blueprint("todo"), api_url=API, anon_key=SERVICE)


def test_render_site_refuses_a_service_key_placeholder_even_unvalidated() -> None:
    bp = validate_blueprint(valid())
    sneaky = SiteFile.model_construct(
        file="evil.js", data='const K = "{{SERVICE_KEY}}";', source=None, encoding="utf-8",
    )
    unchecked = Blueprint.model_construct(**{**dict(bp), "site": [*bp.site, sneaky]})
    with pytest.raises(BlueprintError, match=r"site\[2\] \(evil\.js\): .*service key"):
        render_site(unchecked, api_url=API, anon_key=ANON)


def test_render_site_needs_an_http_api_url() -> None:
    with pytest.raises(BlueprintError, match="api_url"):
        render_site(load_blueprint("todo"), api_url="127.0.0.1:8402", anon_key=ANON)


def test_placeholders_are_the_documented_three() -> None:
    assert PLACEHOLDERS == ("API_URL", "ANON_KEY", "APP_TITLE")
