"""The platform's SQL rules: which SQL a project may send to ``POST /admin/v1/projects/:id/sql``.

The rules belong to the platform, so both sides of the wire apply them: the Run402 client
(`appwright.platforms.run402.Run402.sql`) refuses blocked SQL before anything is sent, and
the sandbox's endpoint refuses it again before anything runs (a server never trusts its
clients). The sandbox imports this module; it imports nothing from the sandbox.

The endpoint runs a project's SQL as the project's own role, inside one transaction on a
superuser connection that did ``SET LOCAL ROLE pNNNN_owner``. Because the session user is
a superuser, anything that changes ``role`` (or ``session_authorization``) would hand the
SQL superuser rights, so this module decides, before anything runs, whether the text may
run at all, and splits it into statements.

It never pattern-matches text: the SQL is parsed by Postgres' own parser (libpg_query via
pglast) and every node of every statement is visited -- CTEs, subqueries, function
arguments, defaults, rules, the SET clauses of functions, the bodies of ``LANGUAGE sql``
and ``LANGUAGE plpgsql`` functions (every embedded expression and statement), and the
string literals run by plpgsql ``EXECUTE``. A syntax error is a rejection.

The parse tree is taken as libpg_query's JSON rather than pglast's Python objects: it is
about seven times faster, and it cannot crash. Building pglast objects for a ~30,000-deep
expression overflows the C stack and kills the process, while libpg_query stops its JSON
output at its own stack limit ("stack depth limit exceeded", ~60,000 JSON levels), which
``json.loads`` either refuses with RecursionError (default recursion limit) or decodes
(measured with py_ecc's limit of 100,000 in an 8 MB thread). The tree is then walked
without recursion, and function bodies may nest only a few levels deep, because each
level is parsed again.

Usage::

    try:
        statements = check_sql(body)
    except SqlBlocked as blocked:   # -> 403 {reason, statement, hint}
        ...
    except SqlSyntaxError as error:  # -> 400 {message, position}
        ...
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pglast import ast
from pglast.parser import ParseError, parse_plpgsql_json, parse_sql_json, scan

__all__ = ["SqlBlocked", "SqlSyntaxError", "Statement", "check_sql"]

Json = dict[str, Any]
"""One node's fields as libpg_query writes them (enums as names, false/empty omitted)."""


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True, kw_only=True)
class Statement:
    """One statement of the submitted SQL, in submission order."""

    text: str
    """The statement's own SQL, sliced from the input, without the ``;`` and stripped."""
    kind: str
    """The parse node's type, e.g. ``"CreateStmt"``, ``"SelectStmt"``, ``"InsertStmt"``."""
    returns_rows: bool
    """True when running it may produce rows: SELECT / VALUES (not ``SELECT ... INTO``),
    anything with RETURNING, EXPLAIN, SHOW, FETCH, and EXECUTE / CALL (whose result shape
    the parser can't know; fetching a row-less statement is harmless)."""


class SqlBlocked(Exception):
    """The SQL parsed, but contains something a project may not run (answer 403)."""

    reason: str
    """Machine-readable code: ``blocked_statement``, ``blocked_setting``,
    ``blocked_function``, ``blocked_language``, ``security_definer``,
    ``transaction_control`` or ``dynamic_sql``."""
    statement: str
    """The offending construct in words, e.g. ``"CREATE EXTENSION"``."""
    hint: str
    """What to do instead, addressed to the agent that sent the SQL."""

    def __init__(self, *, reason: str, statement: str, hint: str) -> None:
        super().__init__(f"{statement} is not allowed ({reason}): {hint}")
        self.reason = reason
        self.statement = statement
        self.hint = hint


class SqlSyntaxError(Exception):
    """The SQL does not parse, or is empty (answer 400)."""

    message: str
    """Postgres' parser message, e.g. ``syntax error at or near "frm"``."""
    position: int | None
    """1-based character position in the submitted SQL, as Postgres reports it; None
    when there is none (end of input, empty input, errors inside function bodies)."""

    def __init__(self, message: str, *, position: int | None = None) -> None:
        suffix = "" if position is None else f" (at position {position})"
        super().__init__(message + suffix)
        self.message = message
        self.position = position


def check_sql(sql: str) -> list[Statement]:
    """Raise SqlBlocked / SqlSyntaxError, or return the statements in order.

    Empty or comment-only input -> SqlSyntaxError('no SQL statement').
    """
    if "\x00" in sql:
        # The parser reads a C string and would stop at the NUL, leaving the rest unchecked.
        raise SqlSyntaxError("SQL must not contain NUL characters", position=sql.index("\x00") + 1)
    statements = _check_source(sql)
    if not statements:
        raise SqlSyntaxError("no SQL statement")
    return statements


# --------------------------------------------------------------------------- block rules


@dataclass(frozen=True, kw_only=True)
class _Rule:
    """Why a family of constructs is refused, and what to do instead."""

    reason: str
    hint: str

    def blocked(self, statement: str) -> SqlBlocked:
        return SqlBlocked(reason=self.reason, statement=statement, hint=self.hint)


def _rule(reason: str, hint: str) -> _Rule:
    return _Rule(reason=reason, hint=hint)


_EXTENSION = _rule(
    "blocked_statement",
    "Extensions are managed by the platform; use built-in features instead "
    "(gen_random_uuid() needs no extension).",
)
_SYSTEM = _rule(
    "blocked_statement",
    "Server configuration is managed by the platform; to change a setting for this "
    "request only, use SET LOCAL name = value.",
)
_SCHEMA = _rule(
    "blocked_statement",
    "Each project has exactly one schema, created for you and already on the search_path; "
    "create tables and other objects without a schema name.",
)
_PRIVILEGES = _rule(
    "blocked_statement",
    "Permissions are managed automatically; use the RLS templates "
    "(POST /admin/v1/projects/:id/rls) instead of GRANT/REVOKE.",
)
_ROLE = _rule(
    "blocked_statement",
    "Database roles are managed by the platform; create app users with the auth API "
    "(POST /auth/v1/signup) and control access with the RLS templates "
    "(POST /admin/v1/projects/:id/rls).",
)
_OWNER = _rule(
    "blocked_statement",
    "Everything you create is already owned by the project's role; leave out "
    "OWNER TO / REASSIGN OWNED.",
)
_DO = _rule(
    "blocked_statement",
    "Anonymous DO blocks are not allowed; send plain SQL statements, or CREATE FUNCTION "
    "... LANGUAGE plpgsql and call it with SELECT.",
)
_SESSION_STATE = _rule(
    "blocked_statement",
    "Connections are shared between requests, so nothing may outlive one: write the query "
    "itself instead of PREPARE/EXECUTE, and poll a table instead of LISTEN/NOTIFY.",
)
_LOAD = _rule(
    "blocked_statement",
    "Server libraries can't be loaded; write functions in LANGUAGE sql or plpgsql.",
)
_DATABASE = _rule(
    "blocked_statement",
    "Each project lives in its own schema of a shared database; create tables in this "
    "project, or create another project (POST /v1/projects).",
)
_TABLESPACE = _rule(
    "blocked_statement",
    "Storage is managed by the platform; create tables and indexes without TABLESPACE.",
)
_EVENT_TRIGGER = _rule(
    "blocked_statement",
    "Event triggers need superuser rights; use ordinary table triggers "
    "(CREATE TRIGGER ... EXECUTE FUNCTION ...).",
)
_FOREIGN = _rule(
    "blocked_statement",
    "Connections to other servers are not available; load the data with INSERT, or "
    "fetch it from a serverless function.",
)
_REPLICATION = _rule(
    "blocked_statement",
    "Logical replication is not available; read changes with SELECT, or use "
    "LISTEN/NOTIFY.",
)
_NESTED_FUNCTION = _rule(
    "blocked_statement",
    "Create each function with its own top-level CREATE FUNCTION statement instead of "
    "creating functions from inside other statements or functions.",
)
_COPY_PROGRAM = _rule(
    "blocked_statement",
    "Shell commands can't run on the database server; load rows with INSERT ... VALUES "
    "(...), (...) and read them with SELECT.",
)
_COPY_FILE = _rule(
    "blocked_statement",
    "The database server's files are off limits; load rows with INSERT ... VALUES "
    "(...), (...) and export them with SELECT.",
)
_COPY_STREAM = _rule(
    "blocked_statement",
    "This endpoint can't stream COPY data; send rows with INSERT ... VALUES (...), (...) "
    "(many rows per statement) and read them with SELECT.",
)
_SEARCH_PATH = _rule(
    "blocked_setting",
    "The search_path is already your project's schema; refer to your tables by their "
    "plain names and leave search_path alone (in functions too).",
)
_ROLE_SWITCH = _rule(
    "blocked_setting",
    "SQL here runs as the project's own role and can't switch roles; to act as an end "
    "user, call the REST API with their access_token (RLS applies there).",
)
_LEXER_SETTING = _rule(
    "blocked_setting",
    "standard_conforming_strings and client_encoding change how later SQL is read, so "
    "they are fixed; use E'...' strings for backslash escapes.",
)
_TIMEOUT = _rule(
    "blocked_setting",
    "The statement timeout is a sandbox limit and can't be changed; split long work into "
    "smaller statements or several requests.",
)
_RESET_ALL = _rule(
    "blocked_setting",
    "RESET ALL would also reset the project's search_path; reset settings one at a time "
    "with RESET name.",
)
_SETTING_NAME = _rule(
    "blocked_setting",
    "Give set_config() its setting name as a plain string literal, e.g. "
    "set_config('request.jwt.claims', '{...}', true); role, search_path and "
    "session_authorization can't be changed.",
)
_PG_SETTINGS = _rule(
    "blocked_setting",
    "Updating pg_settings changes search_path and other fixed settings, so it isn't "
    "available; read a setting with current_setting('name') or SHOW name, and change "
    "one with SET LOCAL name = value.",
)
_TRANSACTION = _rule(
    "transaction_control",
    "Each request already runs in one transaction, committed when every statement "
    "succeeds and rolled back otherwise; send the statements without "
    "BEGIN/COMMIT/ROLLBACK/SAVEPOINT.",
)
_LANGUAGE = _rule(
    "blocked_language",
    "Only LANGUAGE sql and LANGUAGE plpgsql are available; rewrite the function in one "
    "of them, or move the code to a serverless function.",
)
_SECURITY_DEFINER = _rule(
    "security_definer",
    "Functions run with the caller's rights here; drop SECURITY DEFINER (SECURITY "
    "INVOKER is the default) and control access with the RLS templates "
    "(POST /admin/v1/projects/:id/rls).",
)
_REMOTE_FUNCTION = _rule(
    "blocked_function",
    "dblink can't reach other databases from here; keep the data in this project's "
    "tables, or call other services from a serverless function.",
)
_FILE_FUNCTION = _rule(
    "blocked_function",
    "The database server's files are off limits; keep data in tables and files in "
    "storage (POST /storage/v1/object/...).",
)
_SERVER_FUNCTION = _rule(
    "blocked_function",
    "Server processes and configuration are managed by the platform; a runaway query "
    "is stopped by the statement timeout.",
)
_SQL_STRING_FUNCTION = _rule(
    "dynamic_sql",
    "Functions that run SQL given as a string can't be checked; write the query itself.",
)
_DYNAMIC_EXECUTE = _rule(
    "dynamic_sql",
    "plpgsql EXECUTE must be given a string literal so it can be checked; write the "
    "statement directly in the function body, passing values with EXECUTE '...' USING.",
)

# Statements refused whatever their arguments.
_STATEMENT_BLOCKS: dict[str, tuple[str, _Rule]] = {
    "CreateExtensionStmt": ("CREATE EXTENSION", _EXTENSION),
    "AlterExtensionStmt": ("ALTER EXTENSION", _EXTENSION),
    "AlterExtensionContentsStmt": ("ALTER EXTENSION", _EXTENSION),
    "AlterSystemStmt": ("ALTER SYSTEM", _SYSTEM),
    "CreateSchemaStmt": ("CREATE SCHEMA", _SCHEMA),
    "AlterObjectSchemaStmt": ("ALTER ... SET SCHEMA", _SCHEMA),
    "AlterDefaultPrivilegesStmt": ("ALTER DEFAULT PRIVILEGES", _PRIVILEGES),
    "DropOwnedStmt": ("DROP OWNED", _PRIVILEGES),
    "ReassignOwnedStmt": ("REASSIGN OWNED", _OWNER),
    "AlterOwnerStmt": ("ALTER ... OWNER TO", _OWNER),
    "AlterRoleStmt": ("ALTER ROLE", _ROLE),
    "AlterRoleSetStmt": ("ALTER ROLE ... SET", _ROLE),
    "DropRoleStmt": ("DROP ROLE", _ROLE),
    "DoStmt": ("DO", _DO),
    "LoadStmt": ("LOAD", _LOAD),
    "PrepareStmt": ("PREPARE", _SESSION_STATE),
    "ExecuteStmt": ("EXECUTE", _SESSION_STATE),
    "DeallocateStmt": ("DEALLOCATE", _SESSION_STATE),
    "ListenStmt": ("LISTEN", _SESSION_STATE),
    "UnlistenStmt": ("UNLISTEN", _SESSION_STATE),
    "NotifyStmt": ("NOTIFY", _SESSION_STATE),
    "DiscardStmt": ("DISCARD", _SESSION_STATE),
    "CreatedbStmt": ("CREATE DATABASE", _DATABASE),
    "DropdbStmt": ("DROP DATABASE", _DATABASE),
    "AlterDatabaseStmt": ("ALTER DATABASE", _DATABASE),
    "AlterDatabaseSetStmt": ("ALTER DATABASE", _DATABASE),
    "AlterDatabaseRefreshCollStmt": ("ALTER DATABASE", _DATABASE),
    "CreateTableSpaceStmt": ("CREATE TABLESPACE", _TABLESPACE),
    "DropTableSpaceStmt": ("DROP TABLESPACE", _TABLESPACE),
    "AlterTableSpaceOptionsStmt": ("ALTER TABLESPACE", _TABLESPACE),
    "AlterTableMoveAllStmt": ("ALTER ... ALL IN TABLESPACE", _TABLESPACE),
    "CreateEventTrigStmt": ("CREATE EVENT TRIGGER", _EVENT_TRIGGER),
    "AlterEventTrigStmt": ("ALTER EVENT TRIGGER", _EVENT_TRIGGER),
    "CreatePLangStmt": ("CREATE LANGUAGE", _LANGUAGE),
    "CreateFdwStmt": ("CREATE FOREIGN DATA WRAPPER", _FOREIGN),
    "AlterFdwStmt": ("ALTER FOREIGN DATA WRAPPER", _FOREIGN),
    "CreateForeignServerStmt": ("CREATE SERVER", _FOREIGN),
    "AlterForeignServerStmt": ("ALTER SERVER", _FOREIGN),
    "CreateUserMappingStmt": ("CREATE USER MAPPING", _FOREIGN),
    "AlterUserMappingStmt": ("ALTER USER MAPPING", _FOREIGN),
    "DropUserMappingStmt": ("DROP USER MAPPING", _FOREIGN),
    "CreateForeignTableStmt": ("CREATE FOREIGN TABLE", _FOREIGN),
    "ImportForeignSchemaStmt": ("IMPORT FOREIGN SCHEMA", _FOREIGN),
    "CreateSubscriptionStmt": ("CREATE SUBSCRIPTION", _REPLICATION),
    "AlterSubscriptionStmt": ("ALTER SUBSCRIPTION", _REPLICATION),
    "DropSubscriptionStmt": ("DROP SUBSCRIPTION", _REPLICATION),
    "CreatePublicationStmt": ("CREATE PUBLICATION", _REPLICATION),
    "AlterPublicationStmt": ("ALTER PUBLICATION", _REPLICATION),
}

# Object types that DROP / ALTER ... RENAME may not touch (other types are the project's own).
_OBJECT_BLOCKS: dict[str, tuple[str, _Rule]] = {
    "OBJECT_EXTENSION": ("EXTENSION", _EXTENSION),
    "OBJECT_SCHEMA": ("SCHEMA", _SCHEMA),
    "OBJECT_ROLE": ("ROLE", _ROLE),
    "OBJECT_DATABASE": ("DATABASE", _DATABASE),
    "OBJECT_TABLESPACE": ("TABLESPACE", _TABLESPACE),
    "OBJECT_EVENT_TRIGGER": ("EVENT TRIGGER", _EVENT_TRIGGER),
    "OBJECT_LANGUAGE": ("LANGUAGE", _LANGUAGE),
    "OBJECT_FDW": ("FOREIGN DATA WRAPPER", _FOREIGN),
    "OBJECT_FOREIGN_SERVER": ("SERVER", _FOREIGN),
    "OBJECT_PUBLICATION": ("PUBLICATION", _REPLICATION),
    "OBJECT_SUBSCRIPTION": ("SUBSCRIPTION", _REPLICATION),
}

_TRANSACTION_WORDS: dict[str, str] = {
    "TRANS_STMT_BEGIN": "BEGIN",
    "TRANS_STMT_START": "START TRANSACTION",
    "TRANS_STMT_COMMIT": "COMMIT",
    "TRANS_STMT_ROLLBACK": "ROLLBACK",
    "TRANS_STMT_SAVEPOINT": "SAVEPOINT",
    "TRANS_STMT_RELEASE": "RELEASE SAVEPOINT",
    "TRANS_STMT_ROLLBACK_TO": "ROLLBACK TO SAVEPOINT",
    "TRANS_STMT_PREPARE": "PREPARE TRANSACTION",
    "TRANS_STMT_COMMIT_PREPARED": "COMMIT PREPARED",
    "TRANS_STMT_ROLLBACK_PREPARED": "ROLLBACK PREPARED",
}

_ROLE_WORDS: dict[str, str] = {
    "ROLESTMT_ROLE": "CREATE ROLE",
    "ROLESTMT_USER": "CREATE USER",
    "ROLESTMT_GROUP": "CREATE GROUP",
}

# Settings nobody may change, by lower-cased name (Postgres matches setting names
# case-insensitively, so SET "ROLE" is SET role), with how to write them in a message.
_GUARDED_SETTINGS: dict[str, tuple[str, _Rule]] = {
    "role": ("ROLE", _ROLE_SWITCH),
    "session_authorization": ("SESSION AUTHORIZATION", _ROLE_SWITCH),
    "search_path": ("search_path", _SEARCH_PATH),
    # Both would make Postgres read later statements differently from this parser.
    "standard_conforming_strings": ("standard_conforming_strings", _LEXER_SETTING),
    "client_encoding": ("client_encoding", _LEXER_SETTING),
    # The sandbox sets it per request; SET statement_timeout = 0 would lift the limit.
    "statement_timeout": ("statement_timeout", _TIMEOUT),
}

# Functions refused wherever they are named, by lower-cased unqualified name.
_FUNCTION_BLOCKS: dict[str, _Rule] = {
    "lo_import": _FILE_FUNCTION,
    "lo_export": _FILE_FUNCTION,
    "pg_read_file": _FILE_FUNCTION,
    "pg_read_binary_file": _FILE_FUNCTION,
    "pg_stat_file": _FILE_FUNCTION,
    "pg_terminate_backend": _SERVER_FUNCTION,
    "pg_cancel_backend": _SERVER_FUNCTION,
    "pg_reload_conf": _SERVER_FUNCTION,
    "pg_rotate_logfile": _SERVER_FUNCTION,
    "pg_promote": _SERVER_FUNCTION,
    "query_to_xml": _SQL_STRING_FUNCTION,
    "query_to_xmlschema": _SQL_STRING_FUNCTION,
    "query_to_xml_and_xmlschema": _SQL_STRING_FUNCTION,
    "ts_stat": _SQL_STRING_FUNCTION,
    "ts_rewrite": _SQL_STRING_FUNCTION,
}
_FUNCTION_PREFIX_BLOCKS: tuple[tuple[str, _Rule], ...] = (
    ("dblink", _REMOTE_FUNCTION),
    ("pg_ls_", _FILE_FUNCTION),
    ("pg_file_", _FILE_FUNCTION),
)

_LANGUAGES = frozenset({"sql", "plpgsql"})

# Function bodies (and EXECUTE literals) inside function bodies: each level is parsed
# again, so unbounded nesting would cost quadratic time.
_MAX_BODY_DEPTH = 4
_body_depth: ContextVar[int] = ContextVar("sqlgate_body_depth", default=0)


# --------------------------------------------------------------------------- parsing


def _check_source(sql: str) -> list[Statement]:
    """Parse ``sql``, check every statement in it, and describe them."""
    utf8 = sql.encode()
    statements = []
    for raw in _parse(sql):
        # libpg_query's offsets count UTF-8 bytes; a missing stmt_len means "to the end".
        start = raw.get("stmt_location", 0)
        end = start + raw["stmt_len"] if raw.get("stmt_len") else None
        text = utf8[start:end].decode().strip()
        kind, node = next(iter(raw["stmt"].items()))
        _check_statement(raw["stmt"], text)
        statements.append(Statement(text=text, kind=kind, returns_rows=_returns_rows(kind, node)))
    return statements


def _parse(sql: str) -> list[Json]:
    try:
        tree: Json = json.loads(parse_sql_json(sql))
    except ParseError as error:
        raise SqlSyntaxError(error.args[0], position=_error_position(sql, error)) from None
    except RecursionError:
        raise SqlSyntaxError("statement is nested too deeply") from None
    return tree.get("stmts", [])


def _error_position(sql: str, error: ParseError) -> int | None:
    """Postgres' 1-based character position of a parse error."""
    if not sql.isascii():
        # Postgres already reports a character position, but pglast maps it once more as
        # if it were a byte offset, which is wrong after non-ASCII text. Parse a twin in
        # which each non-ASCII character is 'q': the lexer treats both as identifier
        # characters, so the error is the same and the mapping is the identity.
        twin = "".join(char if char.isascii() else "q" for char in sql)
        try:
            parse_sql_json(twin)
        except ParseError as twin_error:
            error = twin_error
    location = error.args[1] if len(error.args) > 1 else None
    return None if location is None else location + 1


# --------------------------------------------------------------------------- tree walk


def _struct_fields() -> dict[str, dict[str, str]]:
    """Node type -> {field: struct type} for fields libpg_query writes without a wrapper.

    A ``Node*`` field is written as ``{"RangeVar": {...}}``, but a field declared as a
    specific struct pointer (``RangeVar*``, ``FuncCall*``, ``ObjectWithArgs*``...) is
    written as the bare ``{...}``; pglast's slot metadata says which fields those are.
    """
    classes = {
        name: value
        for name, value in vars(ast).items()
        if isinstance(value, type) and issubclass(value, ast.Node)
    }
    fields: dict[str, dict[str, str]] = {}
    for name, node_class in classes.items():
        slots = node_class.__dict__.get("__slots__")
        for field, info in slots.items() if isinstance(slots, dict) else ():
            target = info.c_type.removesuffix("*")
            if info.c_type.endswith("*") and target in classes and target not in _WRAPPED:
                fields.setdefault(name, {})[field] = target
    return fields


# Pointer types libpg_query always writes with a wrapper, since they hold any node.
_WRAPPED = ("Node", "Expr", "List")


_STRUCT_FIELDS = _struct_fields()


# Scalars (names, enums, locations) hold no nodes, so only these are queued.
_CONTAINERS = (dict, list)


def _walk(tree: object) -> Iterator[tuple[str, Json]]:
    """Yield (node type, fields) for every node under ``tree``, parents first, in order."""
    pending: list[tuple[str | None, object]] = [(None, tree)]
    while pending:
        kind, value = pending.pop()
        if isinstance(value, list):
            children = [(None, item) for item in value if isinstance(item, _CONTAINERS)]
        elif not isinstance(value, dict):
            continue
        elif kind is None:
            # A wrapper {"NodeType": {...}} (node types are capitalised, fields are not),
            # or a plain container such as the top level.
            children = [
                (key if key[:1].isupper() else None, item)
                for key, item in value.items()
                if isinstance(item, _CONTAINERS)
            ]
        else:
            yield kind, value
            typed = _STRUCT_FIELDS.get(kind, {})
            children = [
                (typed.get(key), item) for key, item in value.items() if isinstance(item, _CONTAINERS)
            ]
        pending.extend(reversed(children))


# --------------------------------------------------------------------------- node checks


def _check_statement(stmt: Json, text: str | None) -> None:
    """Check every node of one parsed statement; ``text`` is that statement's source."""
    root = next(iter(stmt.values()))
    for kind, node in _walk(stmt):
        if kind in _STATEMENT_BLOCKS:
            words, rule = _STATEMENT_BLOCKS[kind]
            raise rule.blocked(words)
        check = _NODE_CHECKS.get(kind)
        if check is not None:
            check(node)
        if kind == "CreateFunctionStmt":
            _check_function_body(node, text if node is root else None)


def _check_create_role(node: Json) -> None:
    raise _ROLE.blocked(_ROLE_WORDS.get(node.get("stmt_type", ""), "CREATE ROLE"))


def _check_grant(node: Json) -> None:
    raise _PRIVILEGES.blocked("GRANT" if node.get("is_grant") else "REVOKE")


def _check_transaction(node: Json) -> None:
    raise _TRANSACTION.blocked(_TRANSACTION_WORDS.get(node.get("kind", ""), "transaction control"))


def _check_drop(node: Json) -> None:
    if node.get("removeType") in _OBJECT_BLOCKS:
        words, rule = _OBJECT_BLOCKS[node["removeType"]]
        raise rule.blocked(f"DROP {words}")


def _check_rename(node: Json) -> None:
    if node.get("renameType") in _OBJECT_BLOCKS:
        words, rule = _OBJECT_BLOCKS[node["renameType"]]
        raise rule.blocked(f"ALTER {words} ... RENAME")


def _check_alter_table_cmd(node: Json) -> None:
    if node.get("subtype") == "AT_ChangeOwner":
        raise _OWNER.blocked("ALTER ... OWNER TO")


def _check_copy(node: Json) -> None:
    direction = "FROM" if node.get("is_from") else "TO"
    if node.get("is_program"):
        raise _COPY_PROGRAM.blocked(f"COPY ... {direction} PROGRAM")
    if "filename" in node:
        raise _COPY_FILE.blocked(f"COPY ... {direction} file")
    raise _COPY_STREAM.blocked(f"COPY ... {'FROM STDIN' if node.get('is_from') else 'TO STDOUT'}")


def _check_variable_set(node: Json) -> None:
    """SET / RESET, also as a function's SET clause."""
    if node.get("kind") == "VAR_RESET_ALL":
        raise _RESET_ALL.blocked("RESET ALL")
    guarded = _GUARDED_SETTINGS.get(node.get("name", "").lower())
    if guarded is not None:
        words, rule = guarded
        verb = "RESET" if node.get("kind") == "VAR_RESET" else "SET"
        raise rule.blocked(f"{verb} {words}")


def _check_range_var(node: Json) -> None:
    # pg_settings' UPDATE rule calls set_config() with names taken from data (measured:
    # it changes search_path and standard_conforming_strings); a view over pg_settings
    # can be updated the same way, so the name is refused everywhere.
    if node.get("relname", "").lower() == "pg_settings":
        raise _PG_SETTINGS.blocked("pg_settings")


def _check_func_call(node: Json) -> None:
    name = _last_name(node.get("funcname", []))
    if name == "set_config":
        _check_set_config(node.get("args", []))
    else:
        _check_function_name(name, f"{name}()")


def _check_set_config(args: list[Json]) -> None:
    setting = _string_constant(args[0]) if args else None
    if setting is None:
        # A computed name (lower('ROLE'), a parameter, a named argument) can't be checked.
        raise _SETTING_NAME.blocked("set_config() with a computed setting name")
    guarded = _GUARDED_SETTINGS.get(setting.lower())
    if guarded is not None:
        raise guarded[1].blocked(f"set_config('{setting}', ...)")


def _check_function_reference(names: list[Json]) -> None:
    """A function named without a call: aggregate/operator support, casts, opclasses.

    set_config is refused outright here: e.g. an aggregate whose state function is
    set_config calls it with a setting name taken from data.
    """
    name = _last_name(names)
    if name == "set_config":
        raise _SETTING_NAME.blocked("reference to set_config")
    _check_function_name(name, f"reference to {name}")


def _check_function_name(name: str, words: str) -> None:
    rule = _FUNCTION_BLOCKS.get(name) or next(
        (rule for prefix, rule in _FUNCTION_PREFIX_BLOCKS if name.startswith(prefix)), None
    )
    if rule is not None:
        raise rule.blocked(words)


def _check_def_elem(node: Json) -> None:
    # CREATE AGGREGATE / OPERATOR / TYPE ... name their support functions as a TypeName.
    arg = node.get("arg", {})
    if "TypeName" in arg:
        _check_function_reference(arg["TypeName"].get("names", []))


def _check_object_with_args(node: Json) -> None:
    _check_function_reference(node.get("objname", []))


def _check_alter_function(node: Json) -> None:
    if _is_true(_options(node.get("actions", [])).get("security")):
        raise _SECURITY_DEFINER.blocked("SECURITY DEFINER")


def _check_create_function(node: Json) -> None:
    options = _options(node.get("options", []))
    if _is_true(options.get("security")):
        raise _SECURITY_DEFINER.blocked("SECURITY DEFINER")
    language = _language(options)
    if language not in _LANGUAGES:
        raise _LANGUAGE.blocked(f"LANGUAGE {language}")


_NODE_CHECKS: dict[str, Callable[[Json], None]] = {
    "CreateRoleStmt": _check_create_role,
    "GrantStmt": _check_grant,
    "GrantRoleStmt": _check_grant,
    "TransactionStmt": _check_transaction,
    "DropStmt": _check_drop,
    "RenameStmt": _check_rename,
    "AlterTableCmd": _check_alter_table_cmd,
    "CopyStmt": _check_copy,
    "VariableSetStmt": _check_variable_set,
    "RangeVar": _check_range_var,
    "FuncCall": _check_func_call,
    "DefElem": _check_def_elem,
    "ObjectWithArgs": _check_object_with_args,
    "AlterFunctionStmt": _check_alter_function,
    "CreateFunctionStmt": _check_create_function,
}


# --------------------------------------------------------------------------- function bodies


def _check_function_body(node: Json, text: str | None) -> None:
    """Check the ``AS '...'`` body of a CREATE FUNCTION / PROCEDURE by parsing it too.

    ``BEGIN ATOMIC`` / ``RETURN`` bodies are part of the tree and already walked.
    """
    options = _options(node.get("options", []))
    body = _as_body(options)
    if body is None:
        return
    where = f"the body of function {_qualified_name(node.get('funcname', []))}"
    with _nested_body():
        if _language(options) == "sql":
            _check_nested_sql(body, where)
        elif text is None:
            raise _NESTED_FUNCTION.blocked("CREATE FUNCTION ... LANGUAGE plpgsql inside a statement")
        else:
            _check_plpgsql(text, where)


@contextmanager
def _nested_body() -> Iterator[None]:
    depth = _body_depth.get() + 1
    if depth > _MAX_BODY_DEPTH:
        raise _NESTED_FUNCTION.blocked(f"function bodies nested more than {_MAX_BODY_DEPTH} deep")
    token = _body_depth.set(depth)
    try:
        yield
    finally:
        _body_depth.reset(token)


def _check_nested_sql(sql: str, where: str) -> None:
    try:
        _check_source(sql)
    except SqlSyntaxError as error:
        # Positions inside a body would point into the wrong text; name the body instead.
        raise SqlSyntaxError(f"{error.message} (in {where})") from None


def _check_plpgsql(create_function: str, where: str) -> None:
    """Check every expression, statement and dynamic query of a plpgsql function."""
    try:
        tree = json.loads(parse_plpgsql_json(create_function))
        if not all("action" in function.get("PLpgSQL_function", {}) for function in tree):
            # libpg_query skips what it doesn't take for plpgsql; never pass that unread.
            raise SqlSyntaxError("the plpgsql body could not be read")
        for kind, node in _walk(tree):
            check = _PLPGSQL_CHECKS.get(kind)
            if check is not None:
                check(node)
    except ParseError as error:
        raise SqlSyntaxError(f"{error.args[0]} (in {where})") from None
    except RecursionError:
        raise SqlSyntaxError(f"statement is nested too deeply (in {where})") from None
    except SqlSyntaxError as error:
        raise SqlSyntaxError(f"{error.message} (in {where})") from None


def _check_plpgsql_expr(node: Json) -> None:
    """One SQL fragment of a plpgsql function, by libpg_query's RawParseMode."""
    query, mode = node.get("query", ""), node.get("parseMode", 0)
    if mode == 0:  # a whole statement: SELECT/PERFORM, INSERT, SET, CALL...
        _check_source(query)
    elif mode == 2:  # an expression: plpgsql evaluates it as SELECT <expr>
        _check_source(f"SELECT {query}")
    elif mode in (3, 4, 5):  # an assignment: target := expr
        _check_source(_assignment_as_select(query))


def _assignment_as_select(query: str) -> str:
    """``x.f[i] := expr`` -> ``SELECT x.f[i], expr``, so both sides get checked."""
    depth = 0
    for token in scan(query):
        if token.name in ("ASCII_40", "ASCII_91"):  # ( [
            depth += 1
        elif token.name in ("ASCII_41", "ASCII_93"):  # ) ]
            depth -= 1
        elif depth == 0 and token.name in ("COLON_EQUALS", "ASCII_61"):  # := =
            return f"SELECT {query[: token.start]}, {query[token.end + 1 :]}"
    return f"SELECT {query}"


def _check_dynamic_query(expr: Json | None) -> None:
    """EXECUTE's query must be a string literal, which is then checked as SQL."""
    if expr is None:
        return
    sql = _literal_expression(expr.get("PLpgSQL_expr", {}).get("query", ""))
    if sql is None:
        raise _DYNAMIC_EXECUTE.blocked("EXECUTE of a computed string")
    with _nested_body():
        _check_source(sql)


def _literal_expression(expression: str) -> str | None:
    """The value of ``expression`` if it is nothing but a string literal."""
    statements = _parse(f"SELECT {expression}")
    select = statements[0]["stmt"].get("SelectStmt", {}) if len(statements) == 1 else {}
    targets = select.get("targetList", [])
    if len(targets) != 1 or set(select) - {"targetList", "limitOption", "op"}:
        return None
    return _string_constant(targets[0]["ResTarget"].get("val", {}))


def _check_plpgsql_transaction(node: Json) -> None:
    raise _TRANSACTION.blocked("COMMIT/ROLLBACK inside a procedure")


_PLPGSQL_CHECKS: dict[str, Callable[[Json], None]] = {
    "PLpgSQL_expr": _check_plpgsql_expr,
    "PLpgSQL_stmt_dynexecute": lambda node: _check_dynamic_query(node.get("query")),
    "PLpgSQL_stmt_dynfors": lambda node: _check_dynamic_query(node.get("query")),
    "PLpgSQL_stmt_open": lambda node: _check_dynamic_query(node.get("dynquery")),
    "PLpgSQL_stmt_return_query": lambda node: _check_dynamic_query(node.get("dynquery")),
    "PLpgSQL_stmt_commit": _check_plpgsql_transaction,
    "PLpgSQL_stmt_rollback": _check_plpgsql_transaction,
}


# --------------------------------------------------------------------------- small helpers


def _returns_rows(kind: str, node: Json) -> bool:
    if kind == "SelectStmt":
        return "intoClause" not in node
    if kind in ("InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"):
        return "returningClause" in node
    if kind == "FetchStmt":
        return not node.get("ismove", False)
    return kind in ("ExplainStmt", "VariableShowStmt", "ExecuteStmt", "CallStmt")


def _options(items: list[Json]) -> dict[str, Json]:
    """A list of DefElem nodes as {defname: arg}."""
    elems = (item["DefElem"] for item in items if "DefElem" in item)
    return {elem.get("defname", ""): elem.get("arg", {}) for elem in elems}


def _language(options: dict[str, Json]) -> str:
    # Not lower-cased: the parser already folds LANGUAGE PLPGSQL, and Postgres looks a
    # quoted "PLpgSQL" up as written (and fails), as does libpg_query's plpgsql parser.
    # Without LANGUAGE, Postgres refuses an AS body and a BEGIN ATOMIC body is SQL, so
    # treating the body as SQL is the strict choice.
    return options.get("language", {}).get("String", {}).get("sval", "sql")


def _as_body(options: dict[str, Json]) -> str | None:
    items = options.get("as", {}).get("List", {}).get("items", [])
    return items[0].get("String", {}).get("sval", "") if items else None


def _is_true(arg: Json | None) -> bool:
    return bool(arg and arg.get("Boolean", {}).get("boolval"))


def _string_constant(node: Json) -> str | None:
    """The text of a string literal node ('x', E'x', $$x$$, U&'x'), else None."""
    value = node.get("A_Const", {}).get("sval")
    return None if value is None else value.get("sval", "")


def _last_name(names: list[Json]) -> str:
    # Unqualified and lower-cased: pg_catalog.set_config and "SET_CONFIG" count too.
    return names[-1].get("String", {}).get("sval", "").lower() if names else ""


def _qualified_name(names: list[Json]) -> str:
    return ".".join(name.get("String", {}).get("sval", "") for name in names)
