"""End-to-end: project user auth (signup, password and refresh grants, user, logout)."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from paying import fetchval, jwt_secret, new_account, new_project

pytestmark = pytest.mark.asyncio(loop_scope="session")

PASSWORD = "correct horse"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def projects(api: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two projects paid by one wallet (2 × $0.10 of its $0.25)."""
    account = await new_account(api)
    return await new_project(api, account, "auth-a"), await new_project(api, account, "auth-b")


@pytest.fixture
def project(projects: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return projects[0]


@pytest.fixture
def other(projects: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return projects[1]


def email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


async def signup(http: httpx.AsyncClient, key: str, address: str, password: str = PASSWORD) -> httpx.Response:
    return await http.post("/auth/v1/signup", headers={"apikey": key}, json={"email": address, "password": password})


async def login(http: httpx.AsyncClient, key: str, address: str, password: str = PASSWORD,
                query: str = "") -> httpx.Response:
    return await http.post(f"/auth/v1/token{query}", headers={"apikey": key},
                           json={"email": address, "password": password})


async def refresh(http: httpx.AsyncClient, key: str, token: str) -> httpx.Response:
    return await http.post("/auth/v1/token?grant_type=refresh_token", headers={"apikey": key},
                           json={"refresh_token": token})


async def test_signup_returns_the_user_and_no_session(api: str, project: dict[str, Any]) -> None:
    address = email()
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await signup(http, project["anon_key"], address.upper())
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert set(body) == {"id", "email", "created_at"}
    assert uuid.UUID(body["id"])
    assert body["email"] == address  # stored lower-case
    assert "access_token" not in answer.text and "refresh_token" not in answer.text


async def test_password_is_stored_as_argon2id(api: str, pg_dsn: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        body = (await signup(http, project["anon_key"], email())).json()
    stored = await fetchval(pg_dsn, "SELECT password_hash FROM sandbox.users WHERE id = $1", uuid.UUID(body["id"]))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest.mark.parametrize("bad", ["", "   ", "plain", "a@b", "@example.com", "a b@example.com", "a@@example.com",
                                 "user@exa mple.com", "user@-example.com", 12, None])
async def test_signup_rejects_bad_emails(api: str, project: dict[str, Any], bad: Any) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post("/auth/v1/signup", headers={"apikey": project["anon_key"]},
                                 json={"email": bad, "password": PASSWORD})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_email"
    assert answer.json()["hint"]


async def test_signup_rejects_short_or_missing_passwords(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        short = await signup(http, project["anon_key"], email(), "12345")
        missing = await http.post("/auth/v1/signup", headers={"apikey": project["anon_key"]}, json={"email": email()})
        six = await signup(http, project["anon_key"], email(), "123456")
    assert short.status_code == 400 and short.json()["error"] == "weak_password"
    assert "at least 6" in short.json()["message"]
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_password"
    assert six.status_code == 201


async def test_signup_rejects_bad_bodies_and_keys(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        not_json = await http.post("/auth/v1/signup", headers={"apikey": project["anon_key"]}, content=b"{nope")
        a_list = await http.post("/auth/v1/signup", headers={"apikey": project["anon_key"]}, json=[1])
        no_key = await http.post("/auth/v1/signup", json={"email": email(), "password": PASSWORD})
        bad_key = await signup(http, "garbage", email())
    assert not_json.status_code == 400 and not_json.json()["error"] == "invalid_json"
    assert a_list.status_code == 400 and a_list.json()["error"] == "invalid_body"
    assert no_key.status_code == 401 and no_key.json()["error"] == "missing_key"
    assert bad_key.status_code == 401 and bad_key.json()["error"] == "invalid_key"


async def test_duplicate_signup_is_refused_per_project(
    api: str, project: dict[str, Any], other: dict[str, Any],
) -> None:
    address = email()
    async with httpx.AsyncClient(base_url=api) as http:
        assert (await signup(http, project["anon_key"], address)).status_code == 201
        again = await signup(http, project["anon_key"], address.title(), "another password")
        elsewhere = await signup(http, other["anon_key"], address)
    assert again.status_code == 409
    assert again.json()["error"] == "user_exists"
    assert elsewhere.status_code == 201  # users are per project


async def test_password_grant_issues_a_session(api: str, project: dict[str, Any]) -> None:
    address = email()
    async with httpx.AsyncClient(base_url=api) as http:
        user = (await signup(http, project["anon_key"], address)).json()
        default = await login(http, project["anon_key"], address)
        explicit = await login(http, project["anon_key"], address.upper(), query="?grant_type=password")
    for answer in (default, explicit):
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 3600
        assert body["user"] == user
        assert len(body["refresh_token"]) >= 32
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert claims["sub"] == user["id"]
        assert claims["ref"] == project["project_id"]
        assert claims["role"] == "authenticated"
        assert claims["exp"] - claims["iat"] == 3600
    assert default.json()["refresh_token"] != explicit.json()["refresh_token"]


async def test_refresh_tokens_are_stored_hashed(api: str, pg_dsn: str, project: dict[str, Any]) -> None:
    address = email()
    async with httpx.AsyncClient(base_url=api) as http:
        await signup(http, project["anon_key"], address)
        token = (await login(http, project["anon_key"], address)).json()["refresh_token"]
    stored = await fetchval(pg_dsn, "SELECT count(*) FROM sandbox.refresh_tokens WHERE token_hash = $1",
                            hashlib.sha256(token.encode()).hexdigest())
    raw = await fetchval(pg_dsn, "SELECT count(*) FROM sandbox.refresh_tokens WHERE token_hash = $1", token)
    days = await fetchval(pg_dsn, "SELECT extract(epoch FROM expires_at - now()) / 86400 "
                                  "FROM sandbox.refresh_tokens WHERE token_hash = $1",
                          hashlib.sha256(token.encode()).hexdigest())
    assert stored == 1 and raw == 0
    assert 29.9 < float(days) <= 30.0


async def test_wrong_password_and_unknown_email_look_the_same(api: str, project: dict[str, Any]) -> None:
    address = email()
    async with httpx.AsyncClient(base_url=api) as http:
        await signup(http, project["anon_key"], address)
        wrong = await login(http, project["anon_key"], address, "wrong password")
        unknown = await login(http, project["anon_key"], email(), "wrong password")
        missing = await http.post("/auth/v1/token", headers={"apikey": project["anon_key"]}, json={"email": address})
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"] == "invalid_grant"
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


async def test_login_is_bound_to_the_project(api: str, project: dict[str, Any], other: dict[str, Any]) -> None:
    address = email()
    async with httpx.AsyncClient(base_url=api) as http:
        await signup(http, project["anon_key"], address)
        elsewhere = await login(http, other["anon_key"], address)
    assert elsewhere.status_code == 400 and elsewhere.json()["error"] == "invalid_grant"


async def test_unknown_grant_type(api: str, project: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post("/auth/v1/token?grant_type=magic", headers={"apikey": project["anon_key"]}, json={})
    assert answer.status_code == 400 and answer.json()["error"] == "unsupported_grant_type"


async def test_refresh_token_rotates_and_is_single_use(
    api: str, project: dict[str, Any], other: dict[str, Any],
) -> None:
    address = email()
    async with httpx.AsyncClient(base_url=api) as http:
        user = (await signup(http, project["anon_key"], address)).json()
        first = (await login(http, project["anon_key"], address)).json()
        second = await refresh(http, project["anon_key"], first["refresh_token"])
        reused = await refresh(http, project["anon_key"], first["refresh_token"])
        garbage = await refresh(http, project["anon_key"], "not-a-token")
        empty = await http.post("/auth/v1/token?grant_type=refresh_token",
                                headers={"apikey": project["anon_key"]}, json={})
        third_token = second.json()["refresh_token"]
        foreign = await refresh(http, other["anon_key"], third_token)
        third = await refresh(http, project["anon_key"], third_token)
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["user"] == user and body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["refresh_token"] != first["refresh_token"]
    assert jwt.decode(body["access_token"], options={"verify_signature": False})["sub"] == user["id"]
    for refused in (reused, garbage):
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert empty.status_code == 400 and empty.json()["error"] == "invalid_request"
    # another project's key cannot use (nor burn) this project's refresh token
    assert foreign.status_code == 400 and foreign.json()["error"] == "invalid_grant"
    assert third.status_code == 200


async def test_expired_refresh_token_is_refused(api: str, pg_dsn: str, project: dict[str, Any]) -> None:
    address = email()
    async with httpx.AsyncClient(base_url=api) as http:
        await signup(http, project["anon_key"], address)
        token = (await login(http, project["anon_key"], address)).json()["refresh_token"]
        await fetchval(pg_dsn, "UPDATE sandbox.refresh_tokens SET expires_at = now() - interval '1 second' "
                               "WHERE token_hash = $1 RETURNING 1", hashlib.sha256(token.encode()).hexdigest())
        answer = await refresh(http, project["anon_key"], token)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


async def test_get_user_with_bearer_or_apikey(api: str, project: dict[str, Any]) -> None:
    address = email()
    async with httpx.AsyncClient(base_url=api) as http:
        user = (await signup(http, project["anon_key"], address)).json()
        access = (await login(http, project["anon_key"], address)).json()["access_token"]
        by_bearer = await http.get("/auth/v1/user", headers={"Authorization": f"Bearer {access}"})
        by_both = await http.get("/auth/v1/user", headers={"Authorization": f"Bearer {access}",
                                                           "apikey": project["anon_key"]})
        by_apikey = await http.get("/auth/v1/user", headers={"apikey": access})
        with_anon = await http.get("/auth/v1/user", headers={"apikey": project["anon_key"]})
        with_service = await http.get("/auth/v1/user", headers={"Authorization": f"Bearer {project['service_key']}"})
        nothing = await http.get("/auth/v1/user")
    for answer in (by_bearer, by_both, by_apikey):
        assert answer.status_code == 200, answer.text
        assert answer.json() == user
    for refused in (with_anon, with_service):
        assert refused.status_code == 401 and refused.json()["error"] == "not_authenticated"
    assert nothing.status_code == 401 and nothing.json()["error"] == "missing_key"


async def test_token_of_one_project_is_refused_with_another_projects_key(
    api: str, project: dict[str, Any], other: dict[str, Any],
) -> None:
    address = email()
    async with httpx.AsyncClient(base_url=api) as http:
        await signup(http, project["anon_key"], address)
        access = (await login(http, project["anon_key"], address)).json()["access_token"]
        mixed = await http.get("/auth/v1/user", headers={"Authorization": f"Bearer {access}",
                                                         "apikey": other["anon_key"]})
        mixed_logout = await http.post("/auth/v1/logout", headers={"Authorization": f"Bearer {access}",
                                                                   "apikey": other["anon_key"]})
    assert mixed.status_code == 401 and mixed.json()["error"] == "project_mismatch"
    assert mixed_logout.status_code == 401 and mixed_logout.json()["error"] == "project_mismatch"


async def test_expired_and_forged_access_tokens(api: str, pg_dsn: str, project: dict[str, Any]) -> None:
    address = email()
    async with httpx.AsyncClient(base_url=api) as http:
        user = (await signup(http, project["anon_key"], address)).json()
        secret = await jwt_secret(pg_dsn)
        now = int(time.time())
        claims = {"iss": "appwright-sandbox", "ref": project["project_id"], "role": "authenticated",
                  "sub": user["id"], "email": address, "iat": now - 7200, "exp": now - 3600}
        expired = jwt.encode(claims, secret, algorithm="HS256")
        forged = jwt.encode({**claims, "exp": now + 3600}, "not-the-secret-" * 3, algorithm="HS256")
        answers = [
            await http.get("/auth/v1/user", headers={"Authorization": f"Bearer {token}"})
            for token in (expired, forged, "garbage.token.here")
        ]
    assert answers[0].status_code == 401 and answers[0].json()["error"] == "token_expired"
    assert "refresh_token" in answers[0].json()["hint"]
    assert answers[1].status_code == 401 and answers[1].json()["error"] == "invalid_key"
    assert answers[2].status_code == 401 and answers[2].json()["error"] == "invalid_key"


async def test_logout_revokes_refresh_tokens(api: str, project: dict[str, Any]) -> None:
    address = email()
    async with httpx.AsyncClient(base_url=api) as http:
        await signup(http, project["anon_key"], address)
        one = (await login(http, project["anon_key"], address)).json()
        two = (await login(http, project["anon_key"], address)).json()
        out = await http.post("/auth/v1/logout", headers={"Authorization": f"Bearer {one['access_token']}"})
        after = [await refresh(http, project["anon_key"], s["refresh_token"]) for s in (one, two)]
        anon_logout = await http.post("/auth/v1/logout", headers={"apikey": project["anon_key"]})
        again = await login(http, project["anon_key"], address)
    assert out.status_code == 204 and out.content == b""
    for answer in after:
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert anon_logout.status_code == 401 and anon_logout.json()["error"] == "not_authenticated"
    assert again.status_code == 200  # signing in again still works


async def test_user_id_is_what_auth_uid_sees_in_rls(api: str, project: dict[str, Any]) -> None:
    service = {"Authorization": f"Bearer {project['service_key']}"}
    pid = project["project_id"]
    async with httpx.AsyncClient(base_url=api) as http:
        made = await http.post(
            f"/admin/v1/projects/{pid}/sql", headers={**service, "Content-Type": "text/plain"},
            content="CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL, "
                    "user_id uuid NOT NULL DEFAULT auth.uid())",
        )
        assert made.status_code == 200, made.text
        rls = await http.post(f"/admin/v1/projects/{pid}/rls", headers=service,
                              json={"template": "user_owns_rows", "tables": [{"table": "notes", "owner_column": "user_id"}]})
        assert rls.status_code == 200, rls.text
        users = []
        for _ in range(2):
            address = email()
            user = (await signup(http, project["anon_key"], address)).json()
            access = (await login(http, project["anon_key"], address)).json()["access_token"]
            users.append((user, access))
        for user, access in users:
            wrote = await http.post("/rest/v1/notes", headers={"apikey": access, "Prefer": "return=representation"},
                                    json={"body": f"note of {user['email']}"})
            assert wrote.status_code == 201, wrote.text
            assert wrote.json()[0]["user_id"] == user["id"]
        for user, access in users:
            seen = await http.get("/rest/v1/notes", headers={"apikey": access})
            assert seen.status_code == 200, seen.text
            assert [row["user_id"] for row in seen.json()] == [user["id"]]


async def test_concurrent_refreshes_with_one_token_succeed_once(api: str, project: dict[str, Any]) -> None:
    address = email()
    async with httpx.AsyncClient(base_url=api) as http:
        await signup(http, project["anon_key"], address)
        token = (await login(http, project["anon_key"], address)).json()["refresh_token"]
        answers = await asyncio.gather(*(refresh(http, project["anon_key"], token) for _ in range(5)))
    assert sorted(a.status_code for a in answers) == [200] + [400] * 4
