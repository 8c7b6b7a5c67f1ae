"""Memory facts and the memory directive."""

from __future__ import annotations

import pytest
from appwright.memory import (
    REDACTED,
    DirectiveViolation,
    MemoryDirective,
    MemoryStore,
    MissingContext,
    RunId,
    StepId,
    UnknownRun,
)

PROVISION = StepId("provision")
CREATE_TABLES = StepId("create_tables")
TABLES = [{"name": "todos", "columns": ["id", "task", "done", "user_id", "created_at"]}]


def test_facts_round_trip_as_json(store: MemoryStore, run_id: RunId) -> None:
    store.put_facts(run_id, PROVISION, {"project_id": "p0001", "tables_created": TABLES, "n": 3})
    assert store.get_facts(run_id, ["project_id", "tables_created"]) == {
        "project_id": "p0001",
        "tables_created": TABLES,
    }
    store.put_facts(run_id, PROVISION, {"n": None})
    assert store.get_facts(run_id, {"n"}) == {"n": None}


def test_missing_keys_name_the_step_that_should_have_stored_them(
    store: MemoryStore, run_id: RunId
) -> None:
    store.put_facts(run_id, PROVISION, {"project_id": "p0001"})
    with pytest.raises(MissingContext) as caught:
        store.get_facts(
            run_id,
            ["project_id", "tables_created", "mystery"],
            producers={"tables_created": CREATE_TABLES},
        )
    error = caught.value
    assert error.keys == ("mystery", "tables_created")
    assert error.producers == {"tables_created": CREATE_TABLES}
    assert "tables_created (should have been stored by step 'create_tables')" in str(error)
    assert "mystery (no step declares it" in str(error)
    assert isinstance(error, KeyError)


def test_drop_facts_forgets_them(store: MemoryStore, run_id: RunId) -> None:
    store.put_facts(run_id, PROVISION, {"a": 1, "b": 2})
    store.drop_facts(run_id, ["a", "never_there"])
    assert store.all_facts(run_id) == {"b": 2}


def test_all_facts_hides_secrets_unless_asked(store: MemoryStore, run_id: RunId) -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZSJ9.c2lnbmF0dXJl"
    store.put_facts(
        run_id,
        PROVISION,
        {
            "project_id": "p0001",
            "service_key": jwt,  # secret by its name
            "db_url": "postgres://u:pw@h/db",  # secret because the step says so
            "notes": {"anon": jwt, "wallet": {"privateKey": "0x" + "ab" * 32}},
        },
        secret_keys={"db_url"},
    )
    assert store.all_facts(run_id) == {
        "project_id": "p0001",
        "service_key": REDACTED,
        "db_url": REDACTED,
        "notes": {"anon": REDACTED, "wallet": {"privateKey": REDACTED}},
    }
    raw = store.all_facts(run_id, redact=False)
    assert raw["service_key"] == jwt and raw["db_url"] == "postgres://u:pw@h/db"
    assert store.get_facts(run_id, ["service_key"]) == {"service_key": jwt}


def test_facts_of_an_unknown_run(store: MemoryStore) -> None:
    with pytest.raises(UnknownRun):
        store.put_facts(RunId("nope"), PROVISION, {"a": 1})
    with pytest.raises(UnknownRun):
        store.get_facts(RunId("nope"), ["a"])


DIRECTIVE = MemoryDirective(
    carry_forward=frozenset({"project_id", "service_key"}),
    store=frozenset({"tables_created"}),
    discard=frozenset({"draft_sql"}),
)


def test_a_directive_stores_its_keys_and_discards_others(store: MemoryStore, run_id: RunId) -> None:
    store.put_facts(run_id, PROVISION, {"project_id": "p1", "service_key": "k", "draft_sql": "…"})
    store.apply_directive(run_id, CREATE_TABLES, DIRECTIVE, {"tables_created": TABLES})
    assert store.all_facts(run_id, redact=False) == {
        "project_id": "p1",
        "service_key": "k",
        "tables_created": TABLES,
    }


def test_an_output_lacking_a_declared_key_stores_nothing(store: MemoryStore, run_id: RunId) -> None:
    store.put_facts(run_id, PROVISION, {"draft_sql": "…"})
    with pytest.raises(DirectiveViolation, match="lacks tables_created") as caught:
        store.apply_directive(run_id, CREATE_TABLES, DIRECTIVE, {})
    assert caught.value.missing == ("tables_created",)
    assert store.all_facts(run_id) == {"draft_sql": "…"}  # not discarded either


def test_an_output_with_an_undeclared_key_stores_nothing(store: MemoryStore, run_id: RunId) -> None:
    with pytest.raises(
        DirectiveViolation, match="has project_id, which its store does not declare"
    ):
        store.apply_directive(
            run_id, CREATE_TABLES, DIRECTIVE, {"tables_created": TABLES, "project_id": "p2"}
        )
    assert store.all_facts(run_id) == {}


def test_a_directive_marks_secrets(store: MemoryStore, run_id: RunId) -> None:
    directive = MemoryDirective(
        store=frozenset({"project_id", "anon_key", "db_password_hint"}),
        secret=frozenset({"db_password_hint"}),
    )
    store.apply_directive(
        run_id, PROVISION, directive, {"project_id": "p1", "anon_key": "a", "db_password_hint": "h"}
    )
    assert store.all_facts(run_id) == {
        "project_id": "p1",
        "anon_key": REDACTED,
        "db_password_hint": REDACTED,
    }


def test_directive_sets_must_be_consistent() -> None:
    with pytest.raises(ValueError, match="x in both store and discard"):
        MemoryDirective(store=frozenset({"x"}), discard=frozenset({"x"}))
    with pytest.raises(ValueError, match="y in both carry_forward and discard"):
        MemoryDirective(carry_forward=frozenset({"y"}), discard=frozenset({"y"}))
    with pytest.raises(ValueError, match="secret names keys not in store"):
        MemoryDirective(secret=frozenset({"z"}))
    with pytest.raises(TypeError, match="not a string"):
        MemoryDirective(store="project_id")  # type: ignore[arg-type]


def test_a_directive_is_frozen_and_keyword_only() -> None:
    directive = MemoryDirective(store={"a"})  # type: ignore[arg-type]
    assert directive.store == frozenset({"a"})
    with pytest.raises(AttributeError):
        directive.store = frozenset()  # type: ignore[misc]
    with pytest.raises(TypeError):
        MemoryDirective(frozenset({"a"}))  # type: ignore[call-arg]
