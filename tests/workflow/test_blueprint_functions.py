"""A blueprint's functions: the bundled photos blueprint, validation by field, the plan they become."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jwt
import pytest

from appwright.steps.functions import function_plan_problem
from appwright.workflow.blueprint import Blueprint, BlueprintError, load_blueprint, validate_blueprint
from appwright.workflow.blueprint_agent import plan_from_blueprint
from appwright.workflow.blueprint_functions import FunctionConfig, FunctionSpec
from appwright.workflow.llm_tools import plan_problem

HELLO = "export default async (req) => new Response('hello')"
SERVICE = jwt.encode({"iss": "appwright-sandbox", "ref": "prj_1", "role": "service_role"}, "s" * 32, algorithm="HS256")


def valid() -> dict[str, Any]:
    """A small valid blueprint with one function, fresh each call."""
    return {
        "name": "tiny-app",
        "title": "Tiny",
        "description": "A tiny app.",
        "tables": [{"name": "items", "sql": "CREATE TABLE items (id serial PRIMARY KEY, title text)",
                    "columns": ["id", "title"]}],
        "site": [
            {"file": "index.html", "data": "<title>{{APP_TITLE}}</title><script type=module src=app.js></script>"},
            {"file": "app.js", "data": 'const API = "{{API_URL}}"; const KEY = "{{ANON_KEY}}";'},
        ],
        "functions": [{"name": "hello", "code": HELLO}],
        "feedback": "Nice.",
    }


def refused(data: dict[str, Any]) -> str:
    with pytest.raises(BlueprintError) as caught:
        validate_blueprint(data, file="tiny.json")
    return str(caught.value)


def with_function(**fields: Any) -> dict[str, Any]:
    data = valid()
    data["functions"][0] = {**data["functions"][0], **fields}
    return data


# --- the bundled photos blueprint -----------------------------------------------------


def test_photos_blueprint() -> None:
    bp = load_blueprint("photos")
    assert bp.table("photos").columns == ["id", "caption", "image_path", "content_type", "created_at"]
    assert [(r.table, r.template) for r in bp.rls] == [("photos", "public_read_write")]
    assert [f.name for f in bp.functions] == ["summary"]
    summary = bp.functions[0]
    assert summary.source is None and summary.code and "export default" in summary.code, "sources are inlined"
    assert 'req.headers.get("apikey")' in summary.code and "/rest/v1/photos" in summary.code
    app = next(f.data for f in bp.site if f.file == "app.js") or ""
    for needle in ("/storage/v1/object/", "/storage/v1/object/sign/", "/rest/v1/photos", "/functions/v1/summary",
                   "apikey: ANON_KEY"):
        assert needle in app, needle
    again = Blueprint.model_validate(json.loads(bp.model_dump_json()))
    assert again.model_dump() == bp.model_dump(), "a loaded blueprint is self-contained"


def test_photos_plan_carries_the_function() -> None:
    plan = plan_from_blueprint(load_blueprint("photos"))
    assert [f["name"] for f in plan["function_plan"]] == ["summary"]
    assert plan["function_plan"][0]["config"] == {"timeout_s": 10.0}
    assert function_plan_problem(plan["function_plan"]) is None
    assert plan_problem(plan) is None


def test_blueprints_without_functions_plan_none() -> None:
    assert plan_from_blueprint(load_blueprint("todo"))["function_plan"] == []


def test_function_fields_are_documented() -> None:
    for model in (FunctionSpec, FunctionConfig):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name}"


# --- validation -----------------------------------------------------------------------


def test_the_base_blueprint_is_valid() -> None:
    assert [f.name for f in validate_blueprint(valid()).functions] == ["hello"]


@pytest.mark.parametrize("name", ["Hello", "-hello", "hel lo", "hello.js", "a" * 64, "", "héllo"])
def test_bad_function_name(name: str) -> None:
    message = refused(with_function(name=name))
    assert message.startswith("tiny.json: functions[0].name: ") and "not a function name" in message


def test_a_function_declared_twice() -> None:
    data = valid()
    data["functions"].append({"name": "hello", "code": HELLO})
    assert "functions[1].name: function 'hello' is declared twice" in refused(data)


@pytest.mark.parametrize("code, why", [
    ("   ", "the code is empty"),
    ("const f = async () => new Response('x');", "no default export"),
    (HELLO + "\n// uses process.env.SERVICE_KEY", "refers to the service key (the name 'SERVICE_KEY')"),
    (f"const k = '{SERVICE}';\n" + HELLO, "refers to the service key (a key whose role is service_role)"),
    ("x".join([""] * 2) + "a" * (1024 * 1024 + 1) + HELLO, "larger than"),
])
def test_bad_function_code(code: str, why: str) -> None:
    message = refused(with_function(code=code))
    assert "functions[0].code: " in message and why in message, message


def test_code_xor_source() -> None:
    assert "functions[0]: give exactly one of code and source, not both" in refused(with_function(source="f.js"))
    data = valid()
    del data["functions"][0]["code"]
    assert "functions[0]: give exactly one of code and source" in refused(data)


@pytest.mark.parametrize("source", ["/etc/passwd", "../f.js", "a//b.js", "a\\b.js"])
def test_source_must_be_relative(source: str) -> None:
    data = valid()
    data["functions"][0] = {"name": "hello", "source": source}
    assert "functions[0].source: " in refused(data)


@pytest.mark.parametrize("config, field", [
    ({"timeout_s": 0}, "timeout_s"), ({"timeout_s": 31}, "timeout_s"), ({"memory_mb": 16}, "memory_mb"),
    ({"memory_mb": 1024}, "memory_mb"), ({"cpu": 2}, "cpu"),
])
def test_bad_config(config: dict[str, Any], field: str) -> None:
    assert f"functions[0].config.{field}: " in refused(with_function(config=config))


def test_unknown_function_field() -> None:
    assert "functions[0].runtime: " in refused(with_function(runtime="deno"))


def test_source_is_read_beside_the_blueprint(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "hello.js").write_text(HELLO)
    data = valid()
    data["functions"][0] = {"name": "hello", "source": "fn/hello.js"}
    (tmp_path / "app.json").write_text(json.dumps(data))
    bp = load_blueprint(str(tmp_path / "app.json"))
    assert bp.functions[0].code == HELLO and bp.functions[0].source is None


def test_an_unreadable_source_names_the_field(tmp_path: Path) -> None:
    data = valid()
    data["functions"][0] = {"name": "hello", "source": "missing.js"}
    (tmp_path / "app.json").write_text(json.dumps(data))
    with pytest.raises(BlueprintError) as caught:
        load_blueprint(str(tmp_path / "app.json"))
    assert caught.value.field == "functions[0].source" and "cannot read" in str(caught.value)


def test_a_source_that_breaks_a_rule_is_refused_once_read(tmp_path: Path) -> None:
    (tmp_path / "hello.js").write_text("export default () => fetch(x, {headers: {apikey: serviceKey}})")
    data = valid()
    data["functions"][0] = {"name": "hello", "source": "hello.js"}
    (tmp_path / "app.json").write_text(json.dumps(data))
    with pytest.raises(BlueprintError) as caught:
        load_blueprint(str(tmp_path / "app.json"))
    assert caught.value.field == "functions[0].code" and "serviceKey" in str(caught.value)


# --- the plan step's own check (for an LLM's plan) ------------------------------------


def test_function_plan_problems_name_the_entry() -> None:
    good = {"name": "hello", "code": HELLO, "config": {}}
    assert function_plan_problem([good]) is None
    assert "function_plan[1].name: 'hello' is planned twice" in str(function_plan_problem([good, good]))
    assert "function_plan[0].name: 'Bad'" in str(function_plan_problem([{**good, "name": "Bad"}]))
    assert "function_plan[0].code (hello): " in str(function_plan_problem([{**good, "code": 3}]))
    leaked = function_plan_problem([{**good, "code": HELLO + "// eyJsecret"}], service_key="eyJsecret")
    assert leaked and "its value" in leaked


def test_an_llm_plan_with_a_bad_function_is_refused_by_its_plan_field() -> None:
    plan = copy.deepcopy(plan_from_blueprint(load_blueprint("photos")))
    plan["function_plan"][0]["name"] = "Summary!"
    problem = plan_problem(plan)
    assert problem and "function_plan[0].name: " in problem
