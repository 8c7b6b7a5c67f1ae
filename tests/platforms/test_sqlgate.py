"""Tests for appwright.platforms.sqlgate: which SQL a project may run on the platform."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from appwright.platforms import sqlgate
from appwright.platforms.sqlgate import SqlBlocked, SqlSyntaxError, Statement, check_sql

# --------------------------------------------------------------------------- helpers


def blocked(sql: str) -> SqlBlocked:
    with pytest.raises(SqlBlocked) as info:
        check_sql(sql)
    return info.value


def syntax_error(sql: str) -> SqlSyntaxError:
    with pytest.raises(SqlSyntaxError) as info:
        check_sql(sql)
    return info.value


def kinds(sql: str) -> list[str]:
    return [statement.kind for statement in check_sql(sql)]


# --------------------------------------------------------------------------- allowed SQL

SEED_TABLES = """
CREATE TABLE todos (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  task text NOT NULL,
  done boolean DEFAULT false,
  user_id uuid,
  created_at timestamptz DEFAULT now()
);

CREATE TABLE categories (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL UNIQUE,
  created_at timestamptz DEFAULT now()
);
"""

SEED_DATA = """
INSERT INTO categories (name) VALUES
  ('General'),
  ('Urgent'),
  ('Personal');
"""

TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;
CREATE TRIGGER todos_updated_at BEFORE UPDATE ON todos
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
"""

# A plpgsql function using most statement forms, including a checkable EXECUTE.
RICH_PLPGSQL = """
CREATE FUNCTION audit_todo() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  v_count int := 0;
  v_row todos%ROWTYPE;
  v_ids uuid[] := ARRAY[]::uuid[];
  v_id uuid;
  r record;
  cur CURSOR (p uuid) FOR SELECT * FROM todos WHERE user_id = p;
  claims jsonb := coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb;
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.created_at = now();
  ELSIF TG_OP = 'UPDATE' THEN
    NEW.tags[1] := 'edited';
  END IF;
  v_count := (SELECT count(*) FROM todos WHERE done);
  SELECT * INTO STRICT v_row FROM todos WHERE id = NEW.id;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  FOREACH v_id IN ARRAY v_ids LOOP
    PERFORM pg_notify('todos', v_id::text);
  END LOOP;
  FOR r IN SELECT * FROM todos LOOP
    CONTINUE WHEN r.done;
  END LOOP;
  OPEN cur(NEW.user_id);
  CASE v_count WHEN 0 THEN NULL; ELSE RAISE NOTICE 'count %', v_count; END CASE;
  EXECUTE 'UPDATE todos SET done = $1 WHERE id = $2' USING true, NEW.id;
  ASSERT v_count >= 0, 'negative';
  RETURN NEW;
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'duplicate: %', SQLERRM USING ERRCODE = '23505';
END;
$fn$;
"""


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param(SEED_TABLES, ["CreateStmt", "CreateStmt"], id="seed-000-create-tables"),
        pytest.param(SEED_DATA, ["InsertStmt"], id="seed-000-insert"),
        pytest.param(
            "CREATE TABLE items (id serial PRIMARY KEY, title text NOT NULL, done boolean "
            "DEFAULT false, user_id uuid, created_at timestamptz DEFAULT now());",
            ["CreateStmt"],
            id="seed-001-serial",
        ),
        pytest.param(
            "CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            "payload jsonb NOT NULL DEFAULT '{}'::jsonb)",
            ["CreateStmt"],
            id="identity",
        ),
        pytest.param(
            "UPDATE todos SET done = true WHERE task = 'x'; DELETE FROM todos WHERE done;",
            ["UpdateStmt", "DeleteStmt"],
            id="update-delete",
        ),
        pytest.param(
            "SELECT t.*, c.name FROM todos t LEFT JOIN categories c ON true "
            "WHERE t.id IN (SELECT id FROM todos) ORDER BY 1 LIMIT 10",
            ["SelectStmt"],
            id="select",
        ),
        pytest.param(
            "CREATE INDEX todos_user_idx ON todos (user_id); "
            "CREATE UNIQUE INDEX ON categories (lower(name)) WHERE name <> '';",
            ["IndexStmt", "IndexStmt"],
            id="create-index",
        ),
        pytest.param(
            "ALTER TABLE todos ADD COLUMN category_id uuid REFERENCES categories(id); "
            "ALTER TABLE todos ADD CONSTRAINT task_len CHECK (length(task) < 500); "
            "ALTER TABLE todos ENABLE ROW LEVEL SECURITY;",
            ["AlterTableStmt"] * 3,
            id="alter-table",
        ),
        pytest.param(
            "CREATE FUNCTION open_count(p uuid) RETURNS bigint LANGUAGE sql STABLE AS $$\n"
            "  SELECT count(*) FROM todos WHERE user_id = p AND NOT done\n$$;"
            "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql RETURN a + b;"
            "CREATE FUNCTION add2(a int, b int) RETURNS int LANGUAGE sql "
            "BEGIN ATOMIC SELECT a + b; END;",
            ["CreateFunctionStmt"] * 3,
            id="function-language-sql",
        ),
        pytest.param(TRIGGER_FUNCTION, ["CreateFunctionStmt", "CreateTrigStmt"], id="trigger"),
        pytest.param(RICH_PLPGSQL, ["CreateFunctionStmt"], id="plpgsql-rich"),
        pytest.param(
            "CREATE VIEW open_todos AS SELECT id, task FROM todos WHERE NOT done",
            ["ViewStmt"],
            id="create-view",
        ),
        pytest.param(
            "SELECT set_config('request.jwt.claims', '{\"sub\": \"u1\"}', true), "
            "current_setting('request.jwt.claims', true)",
            ["SelectStmt"],
            id="set-config-jwt-claims",
        ),
        pytest.param(
            "VACUUM todos; SET LOCAL work_mem = '64MB'; "
            "SHOW statement_timeout; EXPLAIN SELECT 1",
            [
                "VacuumStmt",
                "VariableSetStmt",
                "VariableShowStmt",
                "ExplainStmt",
            ],
            id="vacuum-set-show-explain",
        ),
        pytest.param(
            "CREATE POLICY own ON todos USING (user_id = "
            "(current_setting('request.jwt.claims', true)::jsonb->>'sub')::uuid)",
            ["CreatePolicyStmt"],
            id="create-policy",
        ),
        pytest.param(
            "DROP TABLE IF EXISTS old_things; DROP FUNCTION IF EXISTS add(int, int);",
            ["DropStmt", "DropStmt"],
            id="drop-own-objects",
        ),
        pytest.param(
            "SELECT 'SET ROLE postgres; CREATE EXTENSION x; GRANT ALL' AS text_only",
            ["SelectStmt"],
            id="keywords-inside-a-string",
        ),
        pytest.param(
            "SELECT 1 -- ; SET ROLE postgres", ["SelectStmt"], id="keywords-inside-a-comment"
        ),
    ],
)
def test_allowed(sql: str, expected: list[str]) -> None:
    assert kinds(sql) == expected


def test_seed_migration_in_one_request() -> None:
    statements = check_sql(SEED_TABLES + SEED_DATA + TRIGGER_FUNCTION)
    assert [s.kind for s in statements] == [
        "CreateStmt",
        "CreateStmt",
        "InsertStmt",
        "CreateFunctionStmt",
        "CreateTrigStmt",
    ]


# --------------------------------------------------------------------------- blocked kinds

ROLES = "Database roles are managed"
RLS = "use the RLS templates (POST /admin/v1/projects/:id/rls) instead of GRANT/REVOKE"
TRANSACTION = "Each request already runs in one transaction"


@pytest.mark.parametrize(
    ("sql", "reason", "statement", "hint"),
    [
        ("CREATE EXTENSION pgcrypto", "blocked_statement", "CREATE EXTENSION", "gen_random_uuid"),
        ("ALTER EXTENSION hstore UPDATE", "blocked_statement", "ALTER EXTENSION", "Extensions"),
        ("DROP EXTENSION hstore", "blocked_statement", "DROP EXTENSION", "Extensions"),
        ("COPY todos FROM PROGRAM 'curl x'", "blocked_statement", "COPY ... FROM PROGRAM", "Shell"),
        ("COPY todos TO PROGRAM 'sh'", "blocked_statement", "COPY ... TO PROGRAM", "Shell"),
        ("COPY todos TO '/tmp/x'", "blocked_statement", "COPY ... TO file", "files are off limits"),
        ("COPY todos FROM '/etc/passwd'", "blocked_statement", "COPY ... FROM file", "files"),
        ("COPY todos FROM STDIN", "blocked_statement", "COPY ... FROM STDIN", "can't stream"),
        ("COPY (SELECT 1) TO STDOUT", "blocked_statement", "COPY ... TO STDOUT", "can't stream"),
        ("ALTER SYSTEM SET work_mem = '1GB'", "blocked_statement", "ALTER SYSTEM", "SET LOCAL"),
        ("SET search_path = public", "blocked_setting", "SET search_path", "plain names"),
        ("SET LOCAL search_path TO p0002", "blocked_setting", "SET search_path", "plain names"),
        ("SET SCHEMA 'p0002'", "blocked_setting", "SET search_path", "plain names"),
        ("RESET search_path", "blocked_setting", "RESET search_path", "plain names"),
        ("SET ROLE postgres", "blocked_setting", "SET ROLE", "can't switch roles"),
        ("SET LOCAL ROLE NONE", "blocked_setting", "SET ROLE", "can't switch roles"),
        ("RESET ROLE", "blocked_setting", "RESET ROLE", "can't switch roles"),
        ("SET SESSION AUTHORIZATION postgres", "blocked_setting", "SET SESSION AUTHORIZATION", "switch roles"),
        ("RESET SESSION AUTHORIZATION", "blocked_setting", "RESET SESSION AUTHORIZATION", "switch roles"),
        ("SET SESSION AUTHORIZATION DEFAULT", "blocked_setting", "SET SESSION AUTHORIZATION", "switch roles"),
        ("RESET ALL", "blocked_setting", "RESET ALL", "one at a time"),
        ("SET LOCAL statement_timeout = 0", "blocked_setting", "SET statement_timeout", "sandbox limit"),
        ("SELECT set_config('statement_timeout', '0', false)", "blocked_setting", "set_config('statement_timeout', ...)", "sandbox limit"),
        ("SET standard_conforming_strings = off", "blocked_setting", "SET standard_conforming_strings", "E'...'"),
        ("SET NAMES 'SJIS'", "blocked_setting", "SET client_encoding", "E'...'"),
        ("CREATE SCHEMA extra", "blocked_statement", "CREATE SCHEMA", "exactly one schema"),
        ("ALTER SCHEMA p0001 RENAME TO x", "blocked_statement", "ALTER SCHEMA ... RENAME", "one schema"),
        ("DROP SCHEMA p0001 CASCADE", "blocked_statement", "DROP SCHEMA", "exactly one schema"),
        ("ALTER TABLE todos SET SCHEMA public", "blocked_statement", "ALTER ... SET SCHEMA", "one schema"),
        ("GRANT SELECT ON todos TO anon", "blocked_statement", "GRANT", RLS),
        ("REVOKE ALL ON todos FROM PUBLIC", "blocked_statement", "REVOKE", RLS),
        ("GRANT postgres TO p0001_owner", "blocked_statement", "GRANT", RLS),
        ("REVOKE anon FROM authenticated", "blocked_statement", "REVOKE", RLS),
        ("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO anon", "blocked_statement", "ALTER DEFAULT PRIVILEGES", RLS),
        ("DROP OWNED BY anon", "blocked_statement", "DROP OWNED", RLS),
        ("CREATE ROLE admin SUPERUSER", "blocked_statement", "CREATE ROLE", ROLES),
        ("CREATE USER bob PASSWORD 'x'", "blocked_statement", "CREATE USER", ROLES),
        ("CREATE GROUP staff", "blocked_statement", "CREATE GROUP", ROLES),
        ("ALTER ROLE p0001_owner SUPERUSER", "blocked_statement", "ALTER ROLE", ROLES),
        ("ALTER USER bob WITH PASSWORD 'y'", "blocked_statement", "ALTER ROLE", ROLES),
        ("ALTER GROUP staff ADD USER bob", "blocked_statement", "ALTER ROLE", ROLES),
        ("ALTER ROLE bob SET search_path = public", "blocked_statement", "ALTER ROLE ... SET", ROLES),
        ("ALTER ROLE bob RENAME TO alice", "blocked_statement", "ALTER ROLE ... RENAME", ROLES),
        ("DROP ROLE anon", "blocked_statement", "DROP ROLE", ROLES),
        ("DROP USER IF EXISTS bob", "blocked_statement", "DROP ROLE", ROLES),
        ("DROP GROUP staff", "blocked_statement", "DROP ROLE", ROLES),
        ("DO $$ BEGIN PERFORM 1; END $$", "blocked_statement", "DO", "LANGUAGE plpgsql"),
        ("SELECT set_config('role', 'postgres', true)", "blocked_setting", "set_config('role', ...)", "switch roles"),
        ("SELECT set_config('search_path', 'public', true)", "blocked_setting", "set_config('search_path', ...)", "plain names"),
        ("SELECT set_config('session_authorization', 'postgres', false)", "blocked_setting", "set_config('session_authorization', ...)", "switch roles"),
        ("SELECT set_config(name, 'x', true) FROM t", "blocked_setting", "set_config() with a computed setting name", "string literal"),
        ("BEGIN", "transaction_control", "BEGIN", TRANSACTION),
        ("START TRANSACTION ISOLATION LEVEL SERIALIZABLE", "transaction_control", "START TRANSACTION", TRANSACTION),
        ("COMMIT", "transaction_control", "COMMIT", TRANSACTION),
        ("END", "transaction_control", "COMMIT", TRANSACTION),
        ("ROLLBACK", "transaction_control", "ROLLBACK", TRANSACTION),
        ("ABORT", "transaction_control", "ROLLBACK", TRANSACTION),
        ("SAVEPOINT a", "transaction_control", "SAVEPOINT", TRANSACTION),
        ("RELEASE SAVEPOINT a", "transaction_control", "RELEASE SAVEPOINT", TRANSACTION),
        ("ROLLBACK TO SAVEPOINT a", "transaction_control", "ROLLBACK TO SAVEPOINT", TRANSACTION),
        ("PREPARE TRANSACTION 'x'", "transaction_control", "PREPARE TRANSACTION", TRANSACTION),
        ("COMMIT PREPARED 'x'", "transaction_control", "COMMIT PREPARED", TRANSACTION),
        ("LOAD 'auto_explain'", "blocked_statement", "LOAD", "Server libraries"),
        ("CREATE DATABASE other", "blocked_statement", "CREATE DATABASE", "POST /v1/projects"),
        ("DROP DATABASE postgres", "blocked_statement", "DROP DATABASE", "POST /v1/projects"),
        ("ALTER DATABASE postgres SET work_mem = '1GB'", "blocked_statement", "ALTER DATABASE", "shared database"),
        ("ALTER DATABASE postgres RENAME TO x", "blocked_statement", "ALTER DATABASE ... RENAME", "shared database"),
        ("CREATE TABLESPACE fast LOCATION '/mnt'", "blocked_statement", "CREATE TABLESPACE", "without TABLESPACE"),
        ("CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()", "blocked_statement", "CREATE EVENT TRIGGER", "CREATE TRIGGER"),
        ("DROP EVENT TRIGGER e", "blocked_statement", "DROP EVENT TRIGGER", "CREATE TRIGGER"),
        ("ALTER TABLE todos OWNER TO postgres", "blocked_statement", "ALTER ... OWNER TO", "already owned"),
        ("ALTER FUNCTION f() OWNER TO postgres", "blocked_statement", "ALTER ... OWNER TO", "already owned"),
        ("ALTER SCHEMA p0001 OWNER TO anon", "blocked_statement", "ALTER ... OWNER TO", "already owned"),
        ("REASSIGN OWNED BY p0001_owner TO postgres", "blocked_statement", "REASSIGN OWNED", "already owned"),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'", "security_definer", "SECURITY DEFINER", "SECURITY INVOKER"),
        ("ALTER FUNCTION f() SECURITY DEFINER", "security_definer", "SECURITY DEFINER", "SECURITY INVOKER"),
        ("CREATE FUNCTION f() RETURNS int AS 'lib.so', 'f' LANGUAGE c", "blocked_language", "LANGUAGE c", "sql and LANGUAGE plpgsql"),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE internal AS 'int4pl'", "blocked_language", "LANGUAGE internal", "plpgsql"),
        ("CREATE PROCEDURE p() LANGUAGE plpython3u AS 'import os'", "blocked_language", "LANGUAGE plpython3u", "plpgsql"),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE \"PLpgSQL\" AS 'BEGIN END'", "blocked_language", "LANGUAGE PLpgSQL", "plpgsql"),
        # Without HANDLER, Postgres runs CREATE LANGUAGE as CREATE EXTENSION.
        ("CREATE LANGUAGE plperl", "blocked_statement", "CREATE EXTENSION", "Extensions"),
        ("CREATE LANGUAGE plx HANDLER plx_handler", "blocked_language", "CREATE LANGUAGE", "plpgsql"),
        ("DROP LANGUAGE plpgsql", "blocked_language", "DROP LANGUAGE", "plpgsql"),
        ("CREATE FOREIGN DATA WRAPPER w", "blocked_statement", "CREATE FOREIGN DATA WRAPPER", "other servers"),
        ("CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw", "blocked_statement", "CREATE SERVER", "other servers"),
        ("CREATE USER MAPPING FOR CURRENT_USER SERVER s", "blocked_statement", "CREATE USER MAPPING", "other servers"),
        ("CREATE FOREIGN TABLE ft (a int) SERVER s", "blocked_statement", "CREATE FOREIGN TABLE", "other servers"),
        ("IMPORT FOREIGN SCHEMA public FROM SERVER s INTO p0001", "blocked_statement", "IMPORT FOREIGN SCHEMA", "other servers"),
        ("DROP SERVER s", "blocked_statement", "DROP SERVER", "other servers"),
        ("CREATE SUBSCRIPTION sub CONNECTION 'host=x' PUBLICATION p", "blocked_statement", "CREATE SUBSCRIPTION", "replication"),
        ("CREATE PUBLICATION pub FOR ALL TABLES", "blocked_statement", "CREATE PUBLICATION", "replication"),
        ("SELECT dblink('host=x', 'select 1')", "blocked_function", "dblink()", "dblink"),
        ("SELECT dblink_exec('host=x', 'drop table t')", "blocked_function", "dblink_exec()", "dblink"),
        ("SELECT dblink_connect('c', 'host=x')", "blocked_function", "dblink_connect()", "dblink"),
        ("SELECT lo_import('/etc/passwd')", "blocked_function", "lo_import()", "storage"),
        ("SELECT lo_export(1234, '/tmp/x')", "blocked_function", "lo_export()", "storage"),
        ("SELECT pg_read_file('/etc/passwd')", "blocked_function", "pg_read_file()", "storage"),
        ("SELECT pg_read_binary_file('/etc/passwd')", "blocked_function", "pg_read_binary_file()", "storage"),
        ("SELECT * FROM pg_ls_dir('.')", "blocked_function", "pg_ls_dir()", "storage"),
        ("SELECT * FROM pg_ls_waldir()", "blocked_function", "pg_ls_waldir()", "storage"),
        ("SELECT pg_stat_file('postgresql.conf')", "blocked_function", "pg_stat_file()", "storage"),
        ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "blocked_function", "pg_terminate_backend()", "statement timeout"),
        ("SELECT pg_cancel_backend(1)", "blocked_function", "pg_cancel_backend()", "statement timeout"),
        ("SELECT pg_reload_conf()", "blocked_function", "pg_reload_conf()", "statement timeout"),
        ("SELECT query_to_xml('select 1', true, false, '')", "dynamic_sql", "query_to_xml()", "write the query itself"),
        ("SELECT * FROM ts_stat('select to_tsvector(x) from t')", "dynamic_sql", "ts_stat()", "write the query itself"),
        ("UPDATE pg_settings SET setting = 'public' WHERE name = 'search_path'", "blocked_setting", "pg_settings", "current_setting"),
        ("CREATE VIEW s AS SELECT * FROM pg_catalog.pg_settings", "blocked_setting", "pg_settings", "current_setting"),
    ],
)
def test_blocked(sql: str, reason: str, statement: str, hint: str) -> None:
    error = blocked(sql)
    assert (error.reason, error.statement) == (reason, statement)
    assert hint in error.hint


PLPGSQL_INSIDE_A_STATEMENT = (
    "CREATE FUNCTION o() RETURNS int LANGUAGE sql BEGIN ATOMIC "
    "CREATE FUNCTION i() RETURNS int LANGUAGE plpgsql AS 'x'; END"
)

# One statement per block rule: every rule must tell the agent something different.
ONE_PER_RULE = [
    "CREATE EXTENSION x",
    "ALTER SYSTEM SET a = 1",
    "CREATE SCHEMA x",
    "GRANT SELECT ON t TO x",
    "CREATE ROLE x",
    "ALTER TABLE t OWNER TO x",
    "DO 'BEGIN END'",
    "LOAD 'x'",
    "CREATE DATABASE x",
    "CREATE TABLESPACE x LOCATION '/x'",
    "CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()",
    "CREATE SERVER s FOREIGN DATA WRAPPER w",
    "CREATE PUBLICATION p",
    PLPGSQL_INSIDE_A_STATEMENT,
    "COPY t FROM PROGRAM 'x'",
    "COPY t FROM '/x'",
    "COPY t FROM STDIN",
    "SET search_path = x",
    "SET ROLE x",
    "SET standard_conforming_strings = off",
    "RESET ALL",
    "SET statement_timeout = 0",
    "SELECT set_config(x, 'y', true)",
    "SELECT * FROM pg_settings",
    "BEGIN",
    "CREATE FUNCTION f() RETURNS int LANGUAGE c AS 'x'",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'select 1'",
    "SELECT dblink('x', 'y')",
    "SELECT pg_read_file('x')",
    "SELECT pg_reload_conf()",
    "SELECT query_to_xml('x', true, true, '')",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE x; END $$",
    "PREPARE leak AS SELECT 1",
]


@pytest.mark.parametrize("sql", [
    "PREPARE leak AS SELECT 1", "EXECUTE leak", "DEALLOCATE leak", "DEALLOCATE ALL",
    "LISTEN ch", "UNLISTEN *", "NOTIFY ch", "DISCARD ALL",
])
def test_statements_that_leave_state_on_a_shared_connection_are_refused(sql: str) -> None:
    assert blocked(sql).reason == "blocked_statement"


def test_every_rule_has_its_own_hint() -> None:
    hints = [blocked(sql).hint for sql in ONE_PER_RULE]
    assert len(set(hints)) == len(ONE_PER_RULE)
    assert all(hint.endswith(".") and len(hint) > 40 for hint in hints)
    # ... and the list above covers every rule the module has.
    rules = [value for value in vars(sqlgate).values() if isinstance(value, sqlgate._Rule)]
    assert set(hints) == {rule.hint for rule in rules}


def test_plpgsql_created_inside_another_statement_is_refused() -> None:
    error = blocked(PLPGSQL_INSIDE_A_STATEMENT)
    assert error.reason == "blocked_statement"
    assert "its own top-level CREATE FUNCTION" in error.hint


# --------------------------------------------------------------------------- bypass attempts


@pytest.mark.parametrize(
    ("sql", "statement"),
    [
        # comments
        pytest.param("/* harmless */ CREATE /* x */ EXTENSION pgcrypto", "CREATE EXTENSION", id="block-comment"),
        pytest.param("-- set up\nCREATE EXTENSION\n-- hmm\npgcrypto", "CREATE EXTENSION", id="line-comment"),
        pytest.param("SELECT 1; /* ; */ SET /* a */ ROLE -- b\n postgres", "SET ROLE", id="comments-inside"),
        pytest.param("/* /* nested */ SELECT 1; */ SET ROLE postgres", "SET ROLE", id="nested-comment"),
        # mixed case and quoted identifiers
        pytest.param("cReAtE eXtEnSiOn PGCRYPTO", "CREATE EXTENSION", id="mixed-case"),
        pytest.param("SeLeCt SeT_CoNfIg('RoLe', 'postgres', TRUE)", "set_config('RoLe', ...)", id="mixed-case-set-config"),
        pytest.param('SET "ROLE" = postgres', "SET ROLE", id="quoted-setting-name"),
        pytest.param('SET "Search_Path" TO public', "SET search_path", id="quoted-search-path"),
        pytest.param("SELECT \"set_config\"('role', 'postgres', true)", "set_config('role', ...)", id="quoted-function"),
        pytest.param(
            "SELECT \"pg_catalog\".\"set_config\"('role', 'postgres', true)",
            "set_config('role', ...)",
            id="schema-qualified-quoted",
        ),
        pytest.param("SELECT pg_catalog.PG_READ_FILE('/etc/passwd')", "pg_read_file()", id="qualified-upper"),
        # multi-statement strings with the bad one later
        pytest.param("SELECT 1; GRANT ALL ON todos TO anon", "GRANT", id="second-statement"),
        pytest.param("SELECT 'a;b'; INSERT INTO t VALUES (';'); DROP SCHEMA p0001", "DROP SCHEMA", id="third-after-semicolons-in-strings"),
        pytest.param(SEED_TABLES + "ALTER TABLE todos OWNER TO postgres;", "ALTER ... OWNER TO", id="end-of-migration"),
        # hidden in CTEs, subqueries and arguments
        pytest.param(
            "WITH x AS (SELECT set_config('role', 'postgres', true)) SELECT * FROM x",
            "set_config('role', ...)",
            id="cte",
        ),
        pytest.param(
            "WITH a AS (SELECT 1), b AS (SELECT * FROM a WHERE EXISTS "
            "(SELECT set_config('role', 'postgres', true))) SELECT * FROM b",
            "set_config('role', ...)",
            id="cte-subquery",
        ),
        pytest.param(
            "WITH d AS (DELETE FROM todos RETURNING pg_read_file('/etc/passwd')) SELECT 1",
            "pg_read_file()",
            id="data-modifying-cte",
        ),
        pytest.param(
            "SELECT coalesce(NULL, upper(set_config('role', 'postgres', true)))",
            "set_config('role', ...)",
            id="function-argument",
        ),
        pytest.param(
            "SELECT 1 UNION ALL SELECT length(set_config('role', 'postgres', true))",
            "set_config('role', ...)",
            id="union-branch",
        ),
        pytest.param(
            "SELECT * FROM todos, LATERAL (SELECT set_config('role', 'x', true)) s",
            "set_config('role', ...)",
            id="lateral",
        ),
        pytest.param(
            "EXPLAIN ANALYZE SELECT set_config('role', 'postgres', true)",
            "set_config('role', ...)",
            id="explain-analyze",
        ),
        pytest.param(
            "PREPARE p(text) AS SELECT set_config($1, 'x', true)",
            "PREPARE",
            id="prepare-parameter",
        ),
        pytest.param(
            "CALL do_it(set_config('role', 'postgres', true))", "set_config('role', ...)", id="call-argument"
        ),
        # defaults, constraints, indexes, policies, rules, triggers
        pytest.param(
            "CREATE TABLE t (x text DEFAULT set_config('role', 'postgres', true))",
            "set_config('role', ...)",
            id="column-default",
        ),
        pytest.param(
            "ALTER TABLE t ADD CHECK (pg_terminate_backend(1))", "pg_terminate_backend()", id="check-constraint"
        ),
        pytest.param(
            "CREATE INDEX ON t ((set_config('search_path', 'public', true)))",
            "set_config('search_path', ...)",
            id="index-expression",
        ),
        pytest.param(
            "CREATE POLICY p ON t USING (set_config('role', 'postgres', true) IS NOT NULL)",
            "set_config('role', ...)",
            id="policy-expression",
        ),
        pytest.param(
            "CREATE RULE r AS ON INSERT TO t DO ALSO SELECT set_config('role', 'postgres', true)",
            "set_config('role', ...)",
            id="rule-action",
        ),
        # non-constant setting names
        pytest.param(
            "SELECT set_config(lower('ROLE'), 'postgres', true)",
            "set_config() with a computed setting name",
            id="set-config-lower",
        ),
        pytest.param(
            "SELECT set_config('ro' || 'le', 'postgres', true)",
            "set_config() with a computed setting name",
            id="set-config-concatenation",
        ),
        pytest.param(
            "SELECT set_config('role'::text, 'postgres', true)",
            "set_config() with a computed setting name",
            id="set-config-cast",
        ),
        pytest.param(
            "SELECT set_config(new_value => 'postgres', setting_name => 'role', is_local => true)",
            "set_config() with a computed setting name",
            id="set-config-named-arguments",
        ),
        # string spellings the parser decodes
        pytest.param(
            "SELECT set_config(E'\\x72\\x6fle', 'postgres', true)", "set_config('role', ...)", id="e-string"
        ),
        pytest.param(
            "SELECT set_config(U&'\\0072ole', 'postgres', true)", "set_config('role', ...)", id="unicode-string"
        ),
        pytest.param(
            "SELECT set_config($tag$role$tag$, 'postgres', true)", "set_config('role', ...)", id="dollar-string"
        ),
        pytest.param(
            "SELECT set_config('SEARCH_PATH', 'public', true)", "set_config('SEARCH_PATH', ...)", id="upper-name"
        ),
        # SQL function bodies
        pytest.param(
            "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$\n"
            "  SELECT set_config('role', 'postgres', true)\n$$",
            "set_config('role', ...)",
            id="sql-function-dollar-body",
        ),
        pytest.param(
            "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $body$ SELECT 1; "
            "SELECT dblink_exec('host=x', 'drop table t') $body$",
            "dblink_exec()",
            id="sql-function-tagged-body",
        ),
        pytest.param(
            "CREATE FUNCTION f() RETURNS text AS 'SELECT set_config(''role'', ''x'', true)' LANGUAGE SQL",
            "set_config('role', ...)",
            id="sql-function-quoted-body",
        ),
        pytest.param(
            "CREATE FUNCTION f(n text) RETURNS text LANGUAGE sql AS $$ SELECT set_config(n, 'x', true) $$",
            "set_config() with a computed setting name",
            id="sql-function-parameter-name",
        ),
        pytest.param(
            "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ SET search_path = public $$",
            "SET search_path",
            id="sql-function-set",
        ),
        pytest.param(
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC "
            "SELECT length(set_config('role', 'postgres', true)); END",
            "set_config('role', ...)",
            id="sql-function-begin-atomic",
        ),
        pytest.param(
            "CREATE FUNCTION outer_f() RETURNS void LANGUAGE sql AS $o$ "
            "CREATE FUNCTION inner_f() RETURNS void LANGUAGE plpgsql AS $i$ "
            "BEGIN PERFORM set_config('role', 'postgres', true); END $i$ $o$",
            "set_config('role', ...)",
            id="plpgsql-created-by-sql-function",
        ),
        # a function's own SET clause runs on every call
        pytest.param(
            "CREATE FUNCTION f() RETURNS text LANGUAGE sql SET role = 'postgres' AS 'SELECT 1'",
            "SET ROLE",
            id="function-set-role",
        ),
        pytest.param("ALTER FUNCTION f() SET search_path = public", "SET search_path", id="alter-function-set"),
        # functions named without a call
        pytest.param(
            "CREATE AGGREGATE evil(text, bool) (sfunc = pg_catalog.set_config, stype = text, initcond = 'role')",
            "reference to set_config",
            id="aggregate-sfunc-set-config",
        ),
        pytest.param(
            "CREATE OPERATOR !!! (function = pg_terminate_backend, rightarg = int)",
            "reference to pg_terminate_backend",
            id="operator-function",
        ),
        pytest.param(
            "CREATE CAST (text AS int) WITH FUNCTION pg_read_file(text)",
            "reference to pg_read_file",
            id="cast-function",
        ),
        # pg_settings' update rule calls set_config
        pytest.param(
            "WITH u AS (UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings' "
            "RETURNING 1) SELECT 1",
            "pg_settings",
            id="pg-settings-in-cte",
        ),
    ],
)
def test_bypass_attempts_are_blocked(sql: str, statement: str) -> None:
    assert blocked(sql).statement == statement


def plpgsql(body: str, returns: str = "void", *, kind: str = "FUNCTION") -> str:
    signature = "p()" if kind == "PROCEDURE" else f"f() RETURNS {returns}"
    return f"CREATE {kind} {signature} LANGUAGE plpgsql AS $$\n{body}\n$$"


@pytest.mark.parametrize(
    ("sql", "reason", "statement"),
    [
        pytest.param(
            plpgsql("BEGIN PERFORM set_config('role', 'postgres', true); END"),
            "blocked_setting",
            "set_config('role', ...)",
            id="perform",
        ),
        pytest.param(plpgsql("BEGIN SET LOCAL ROLE postgres; END"), "blocked_setting", "SET ROLE", id="set-role"),
        pytest.param(plpgsql("BEGIN RESET ROLE; END"), "blocked_setting", "RESET ROLE", id="reset-role"),
        pytest.param(
            plpgsql("DECLARE x text := set_config('role', 'postgres', true); BEGIN END"),
            "blocked_setting",
            "set_config('role', ...)",
            id="declare-default",
        ),
        pytest.param(
            plpgsql("DECLARE x text; BEGIN x := upper(set_config('role', 'postgres', true)); END"),
            "blocked_setting",
            "set_config('role', ...)",
            id="assignment-value",
        ),
        pytest.param(
            plpgsql(
                "DECLARE a int[]; BEGIN a[length(set_config('role', 'postgres', true))] := 1; END"
            ),
            "blocked_setting",
            "set_config('role', ...)",
            id="assignment-target-subscript",
        ),
        pytest.param(
            plpgsql("BEGIN IF set_config('search_path', 'public', true) = '' THEN NULL; END IF; END"),
            "blocked_setting",
            "set_config('search_path', ...)",
            id="if-condition",
        ),
        pytest.param(
            plpgsql("DECLARE n text := 'role'; BEGIN PERFORM set_config(n, 'postgres', true); END"),
            "blocked_setting",
            "set_config() with a computed setting name",
            id="variable-name",
        ),
        pytest.param(
            plpgsql("BEGIN EXECUTE 'SET ROLE postgres'; END"), "blocked_setting", "SET ROLE", id="execute-literal"
        ),
        pytest.param(
            plpgsql("BEGIN EXECUTE $q$SELECT set_config('role', 'postgres', true)$q$; END"),
            "blocked_setting",
            "set_config('role', ...)",
            id="execute-dollar-literal",
        ),
        pytest.param(
            plpgsql("BEGIN EXECUTE format('SET ROLE %I', 'postgres'); END"),
            "dynamic_sql",
            "EXECUTE of a computed string",
            id="execute-format",
        ),
        pytest.param(
            plpgsql("BEGIN EXECUTE 'SET ' || 'ROLE postgres'; END"),
            "dynamic_sql",
            "EXECUTE of a computed string",
            id="execute-concatenation",
        ),
        pytest.param(
            plpgsql("DECLARE r record; BEGIN FOR r IN EXECUTE current_setting('x') LOOP END LOOP; END"),
            "dynamic_sql",
            "EXECUTE of a computed string",
            id="for-in-execute",
        ),
        pytest.param(
            plpgsql("BEGIN RETURN QUERY EXECUTE 'SELECT ' || 'pg_read_file(''x'')'; END", "SETOF text"),
            "dynamic_sql",
            "EXECUTE of a computed string",
            id="return-query-execute",
        ),
        pytest.param(
            plpgsql("DECLARE c refcursor; BEGIN OPEN c FOR EXECUTE 'SELECT pg_read_file(''x'')'; END"),
            "blocked_function",
            "pg_read_file()",
            id="open-for-execute-literal",
        ),
        pytest.param(
            plpgsql("DECLARE c CURSOR FOR SELECT set_config('role', 'x', true); BEGIN OPEN c; END"),
            "blocked_setting",
            "set_config('role', ...)",
            id="cursor-declaration",
        ),
        pytest.param(
            plpgsql("BEGIN RETURN query_to_xml('select 1', true, false, ''); END", "xml"),
            "dynamic_sql",
            "query_to_xml()",
            id="sql-string-function",
        ),
        pytest.param(
            plpgsql("BEGIN UPDATE pg_settings SET setting = 'x' WHERE name = 'search_path'; END"),
            "blocked_setting",
            "pg_settings",
            id="pg-settings",
        ),
        pytest.param(
            plpgsql("BEGIN COMMIT; END", kind="PROCEDURE"),
            "transaction_control",
            "COMMIT/ROLLBACK inside a procedure",
            id="commit-in-procedure",
        ),
        pytest.param(
            "CREATE FUNCTION f() RETURNS void LANGUAGE 'plpgsql' AS "
            "'BEGIN PERFORM set_config(''search_path'', ''public'', false); END'",
            "blocked_setting",
            "set_config('search_path', ...)",
            id="quoted-language-and-body",
        ),
        pytest.param(
            "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN PERFORM dblink('h', 'q'); RETURN NEW; END $$ "
            "LANGUAGE PLPGSQL",
            "blocked_function",
            "dblink()",
            id="upper-case-language",
        ),
    ],
)
def test_plpgsql_bodies_are_checked(sql: str, reason: str, statement: str) -> None:
    error = blocked(sql)
    assert (error.reason, error.statement) == (reason, statement)


def test_plpgsql_execute_of_a_checked_literal_is_allowed() -> None:
    sql = plpgsql("BEGIN EXECUTE 'UPDATE todos SET done = $1' USING true; END")
    assert kinds(sql) == ["CreateFunctionStmt"]


# --------------------------------------------------------------------------- splitting


def test_statement_texts_are_sliced_and_stripped() -> None:
    sql = (
        "-- migration 1\n"
        "CREATE TABLE a (id serial PRIMARY KEY);\n\n"
        "/* seed */ INSERT INTO a DEFAULT VALUES RETURNING id ;;\n"
        "SELECT 'x;y' AS s  \n"
    )
    assert check_sql(sql) == [
        Statement(text="CREATE TABLE a (id serial PRIMARY KEY)", kind="CreateStmt", returns_rows=False),
        Statement(text="INSERT INTO a DEFAULT VALUES RETURNING id", kind="InsertStmt", returns_rows=True),
        Statement(text="SELECT 'x;y' AS s", kind="SelectStmt", returns_rows=True),
    ]


def test_statement_texts_with_non_ascii() -> None:
    statements = check_sql("INSERT INTO t VALUES ('café ☕'); SELECT '日本' AS 名前")
    assert [s.text for s in statements] == ["INSERT INTO t VALUES ('café ☕')", "SELECT '日本' AS 名前"]


def test_function_body_is_kept_whole() -> None:
    [statement] = check_sql(TRIGGER_FUNCTION.split("CREATE TRIGGER")[0])
    assert statement.text.startswith("CREATE OR REPLACE FUNCTION set_updated_at()")
    assert statement.text.endswith("END;\n$$")


@pytest.mark.parametrize(
    ("sql", "returns_rows"),
    [
        ("SELECT 1", True),
        ("VALUES (1), (2)", True),
        ("TABLE todos", True),
        ("WITH x AS (SELECT 1) SELECT * FROM x", True),
        ("SELECT 1 INTO new_table", False),
        ("INSERT INTO t VALUES (1)", False),
        ("INSERT INTO t VALUES (1) RETURNING *", True),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x RETURNING id", True),
        ("UPDATE t SET a = 1", False),
        ("UPDATE t SET a = 1 RETURNING a", True),
        ("DELETE FROM t RETURNING *", True),
        ("DELETE FROM t", False),
        ("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", False),
        ("EXPLAIN SELECT 1", True),
        ("SHOW statement_timeout", True),
        ("FETCH 10 FROM c", True),
        ("MOVE 10 IN c", False),
        ("CREATE TABLE t (a int)", False),
        ("CREATE TABLE t2 AS SELECT 1", False),
    ],
)
def test_returns_rows(sql: str, returns_rows: bool) -> None:
    [statement] = check_sql(sql)
    assert statement.returns_rows is returns_rows


def test_statement_is_a_frozen_keyword_only_dataclass() -> None:
    statement = Statement(text="SELECT 1", kind="SelectStmt", returns_rows=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        statement.text = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Statement("SELECT 1", "SelectStmt", True)  # type: ignore[misc]


# --------------------------------------------------------------------------- syntax errors


def test_syntax_error_carries_parser_message_and_position() -> None:
    sql = "SELECT 1 FROM todos WHER done"
    error = syntax_error(sql)
    assert error.message == 'syntax error at or near "done"'
    assert error.position == sql.index("done") + 1
    assert str(error) == f'syntax error at or near "done" (at position {sql.index("done") + 1})'


def test_syntax_error_position_counts_characters_after_non_ascii_text() -> None:
    sql = "INSERT INTO t VALUES ('ünïcødé ☕'); SELEC 1"
    error = syntax_error(sql)
    assert error.message == 'syntax error at or near "SELEC"'
    assert error.position == sql.index("SELEC") + 1


def test_syntax_error_rejects_the_whole_request() -> None:
    error = syntax_error("CREATE TABLE ok (id int); CREATE TABEL broken (id int)")
    assert "TABEL" in error.message


def test_syntax_error_at_end_of_input() -> None:
    error = syntax_error("SELECT (1")
    assert error.message == "syntax error at end of input"
    assert error.position is None


@pytest.mark.parametrize("sql", ["", "   \n\t", "-- just a comment", "/* nothing */", ";", " ; ;; "])
def test_empty_input_is_a_syntax_error(sql: str) -> None:
    assert syntax_error(sql).message == "no SQL statement"


def test_nul_character_is_rejected() -> None:
    # The parser would stop at the NUL and never see the DROP.
    error = syntax_error("SELECT 1;\x00DROP SCHEMA p0001")
    assert error.message == "SQL must not contain NUL characters"
    assert error.position == 10


@contextmanager
def recursion_limit(limit: int) -> Iterator[None]:
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        sys.setrecursionlimit(saved)


def test_nesting_beyond_the_parsers_stack_is_a_syntax_error() -> None:
    # pglast's own objects would overflow the C stack here and kill the process.
    error = syntax_error("SELECT " + "1 + " * 50_000 + "1")
    assert error.message == "stack depth limit exceeded"


def test_deep_nesting_follows_the_process_recursion_limit() -> None:
    sql = "SELECT " + "1 + " * 5_000 + "1"
    with recursion_limit(1_000):
        assert syntax_error(sql).message == "statement is nested too deeply"
    # py_ecc (imported by the x402/eth stack) raises the limit to 100,000 at import.
    with recursion_limit(100_000):
        assert kinds(sql) == ["SelectStmt"]


def nested_functions(depth: int) -> str:
    sql = "SELECT 1"
    for level in range(depth):
        sql = f"CREATE FUNCTION f{level}() RETURNS void LANGUAGE sql AS $b{level}$ {sql} $b{level}$"
    return sql


def test_function_bodies_may_nest_four_deep() -> None:
    assert kinds(nested_functions(4)) == ["CreateFunctionStmt"]
    error = blocked(nested_functions(5))
    assert error.statement == "function bodies nested more than 4 deep"
    assert error.reason == "blocked_statement"


def test_syntax_error_in_sql_function_body_names_the_function() -> None:
    error = syntax_error("CREATE FUNCTION broken() RETURNS int LANGUAGE sql AS $$ SELEC 1 $$")
    assert error.message == 'syntax error at or near "SELEC" (in the body of function broken)'
    assert error.position is None


def test_syntax_error_in_plpgsql_body_names_the_function() -> None:
    error = syntax_error(plpgsql("BEGIN RETURN QUERY SELECT 1; END"))
    assert "RETURN QUERY" in error.message
    assert error.message.endswith("(in the body of function f)")


# --------------------------------------------------------------------------- exceptions


def test_sql_blocked_is_self_describing() -> None:
    error = blocked("SELECT 1;\nCREATE EXTENSION pgcrypto;")
    assert error.reason == "blocked_statement"
    assert error.statement == "CREATE EXTENSION"
    assert str(error) == f"CREATE EXTENSION is not allowed (blocked_statement): {error.hint}"
    assert isinstance(error, Exception) and not isinstance(error, SqlSyntaxError)
