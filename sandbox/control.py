"""The sandbox's own bookkeeping schema, `sandbox`, and its migrations.

Projects, accounts and the payment ledger, used nonces, idempotent responses,
auth users, deployments, subdomains, messages and storage objects all live here, in the same
database as the projects' schemas, so that a paid call's work, its charge and its
stored response commit in one transaction or not at all. No project role has any
privilege on this schema.
"""

from __future__ import annotations

import secrets

import asyncpg

__all__ = ["migrate", "jwt_secret"]

_MIGRATIONS: list[str] = [
    # 1: the whole first schema
    """
    CREATE SCHEMA IF NOT EXISTS sandbox;
    REVOKE ALL ON SCHEMA sandbox FROM PUBLIC;
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    CREATE TABLE sandbox.meta (key text PRIMARY KEY, value text NOT NULL);
    CREATE SEQUENCE sandbox.slot_seq;
    CREATE TABLE sandbox.projects (
        id text PRIMARY KEY,
        slot text UNIQUE NOT NULL,
        name text NOT NULL,
        tier text NOT NULL,
        wallet text,
        status text NOT NULL DEFAULT 'active',
        created_at timestamptz NOT NULL DEFAULT now(),
        lease_expires_at timestamptz NOT NULL,
        api_calls bigint NOT NULL DEFAULT 0
    );
    CREATE TABLE sandbox.accounts (
        wallet text PRIMARY KEY,
        balance_micros bigint NOT NULL DEFAULT 0 CHECK (balance_micros >= 0),
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE sandbox.ledger (
        id bigserial PRIMARY KEY,
        wallet text NOT NULL,
        amount_micros bigint NOT NULL,
        kind text NOT NULL,
        description text NOT NULL,
        project_id text,
        tx text,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ON sandbox.ledger (wallet, id);
    CREATE TABLE sandbox.nonces (
        payer text NOT NULL,
        nonce text NOT NULL,
        used_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (payer, nonce)
    );
    CREATE TABLE sandbox.idempotency (
        key text NOT NULL,
        method text NOT NULL,
        path text NOT NULL,
        scope text NOT NULL,
        status int NOT NULL,
        body bytea NOT NULL,
        headers jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (key, method, path, scope)
    );
    CREATE TABLE sandbox.users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        project_id text NOT NULL,
        email text NOT NULL,
        password_hash text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (project_id, email)
    );
    CREATE TABLE sandbox.refresh_tokens (
        token_hash text PRIMARY KEY,
        user_id uuid NOT NULL,
        project_id text NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz
    );
    CREATE TABLE sandbox.deployments (
        id text PRIMARY KEY,
        project_id text NOT NULL,
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE sandbox.deployment_files (
        deployment_id text NOT NULL,
        path text NOT NULL,
        content bytea NOT NULL,
        content_type text NOT NULL,
        PRIMARY KEY (deployment_id, path)
    );
    CREATE TABLE sandbox.subdomains (
        name text PRIMARY KEY,
        deployment_id text NOT NULL,
        project_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE sandbox.messages (
        id bigserial PRIMARY KEY,
        wallet text NOT NULL,
        message text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE sandbox.faucet_grants (
        address text NOT NULL,
        amount_micros bigint NOT NULL,
        granted_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ON sandbox.faucet_grants (address, granted_at);
    CREATE SCHEMA IF NOT EXISTS auth;
    REVOKE ALL ON SCHEMA auth FROM PUBLIC;
    GRANT USAGE ON SCHEMA auth TO PUBLIC;
    CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
        SELECT nullif(current_setting('request.jwt.claims', true)::json->>'sub', '')::uuid
    $$;
    CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
        SELECT current_setting('request.jwt.claims', true)::json->>'role'
    $$;
    CREATE FUNCTION auth.email() RETURNS text LANGUAGE sql STABLE AS $$
        SELECT current_setting('request.jwt.claims', true)::json->>'email'
    $$;
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA auth TO PUBLIC;
    """,
    # 2: no temporary tables: connections are shared, and pg_temp is searched first
    """
    DO $$ BEGIN
        EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    END $$;
    """,
    # 3: a REST read in one round trip: the role, path and claims last as long as the
    # statement's own transaction; the query is built by the sandbox, never by a caller.
    """
    CREATE FUNCTION sandbox.rest_read(
        p_role text, p_schema text, p_claims text, p_sql text,
        OUT body text, OUT total bigint, OUT returned bigint
    ) LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM set_config('role', p_role, true);
        PERFORM set_config('search_path', quote_ident(p_schema) || ', auth', true);
        PERFORM set_config('request.jwt.claims', p_claims, true);
        EXECUTE p_sql INTO body, total, returned;
    END $$;
    REVOKE ALL ON FUNCTION sandbox.rest_read(text, text, text, text) FROM PUBLIC;
    """,
    # 4: storage objects, per project and bucket; size kept beside the bytes so that
    # listing and the quota never read the blobs.
    """
    CREATE TABLE sandbox.storage_objects (
        project_id text NOT NULL,
        bucket text NOT NULL,
        path text NOT NULL,
        content bytea NOT NULL,
        content_type text NOT NULL,
        size bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, bucket, path)
    );
    """,
    # 5: functions, secrets, published app versions (with their site files) and forks.
    # A version keeps secret names only, never values.
    """
    CREATE TABLE sandbox.functions (
        project_id text NOT NULL,
        name text NOT NULL,
        code text NOT NULL,
        config jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, name)
    );
    CREATE TABLE sandbox.secrets (
        project_id text NOT NULL,
        key text NOT NULL,
        value text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, key)
    );
    CREATE TABLE sandbox.app_versions (
        id text PRIMARY KEY,
        project_id text NOT NULL,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        visibility text NOT NULL,
        fork_allowed boolean NOT NULL,
        schema_slot text NOT NULL,
        schema_sql text NOT NULL,
        tables jsonb NOT NULL,
        functions jsonb NOT NULL,
        secret_names jsonb NOT NULL,
        required_secrets jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ON sandbox.app_versions (project_id, created_at);
    CREATE TABLE sandbox.app_version_files (
        version_id text NOT NULL,
        path text NOT NULL,
        content bytea NOT NULL,
        content_type text NOT NULL,
        PRIMARY KEY (version_id, path)
    );
    CREATE TABLE sandbox.forks (
        project_id text PRIMARY KEY,
        version_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    """,
    # 6: AltaTech projects (a schema a0001, … each, reached with a hashed Bearer API key),
    # their tables' declarations, and import tasks (rows kept until processed).
    """
    CREATE SEQUENCE sandbox.altatech_slot_seq;
    CREATE TABLE sandbox.altatech_projects (
        id text PRIMARY KEY,
        slot text UNIQUE NOT NULL,
        name text NOT NULL,
        plan text NOT NULL,
        rpm int NOT NULL,
        key_hash text UNIQUE NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE sandbox.altatech_tables (
        id text PRIMARY KEY,
        project_id text NOT NULL,
        name text NOT NULL,
        description text NOT NULL,
        fields jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (project_id, name)
    );
    CREATE TABLE sandbox.altatech_imports (
        id text PRIMARY KEY,
        project_id text NOT NULL,
        table_id text NOT NULL,
        status text NOT NULL,
        progress double precision NOT NULL DEFAULT 0,
        total_count int NOT NULL,
        success_count int NOT NULL DEFAULT 0,
        fail_count int NOT NULL DEFAULT 0,
        fail_detail jsonb NOT NULL DEFAULT '[]',
        records jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
    );
    """,
]

_LOCK_ID = 402_402_402  # serialises concurrent migrations of one database


async def migrate(conn: asyncpg.Connection) -> int:
    """Bring the `sandbox` schema up to date; return its version."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_ID)
        version = await _version(conn)
        for number, sql in enumerate(_MIGRATIONS[version:], start=version + 1):
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO sandbox.meta VALUES ('schema_version', $1) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value", str(number),
            )
    return len(_MIGRATIONS)


async def _version(conn: asyncpg.Connection) -> int:
    exists = await conn.fetchval("SELECT to_regclass('sandbox.meta') IS NOT NULL")
    if not exists:
        return 0
    value = await conn.fetchval("SELECT value FROM sandbox.meta WHERE key = 'schema_version'")
    return int(value or 0)


async def jwt_secret(conn: asyncpg.Connection) -> str:
    """The secret that signs this sandbox's keys and tokens, made once and kept."""
    await conn.execute(
        "INSERT INTO sandbox.meta VALUES ('jwt_secret', $1) ON CONFLICT (key) DO NOTHING",
        secrets.token_urlsafe(48),
    )
    return str(await conn.fetchval("SELECT value FROM sandbox.meta WHERE key = 'jwt_secret'"))
