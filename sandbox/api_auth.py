"""User auth of a project: signup, password and refresh-token grants, user, logout.

Users live in `sandbox.users`, one set per project; a user's id is the uuid that
access tokens carry as `sub`, which is what `auth.uid()` returns inside RLS policies.
Passwords are hashed with argon2id (in a worker thread: hashing takes tens of ms).
Refresh tokens are random, valid 30 days and usable once; only their sha256 is kept.
Every token is bound to its project: a token of project A means nothing to project B.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import secrets
import uuid
from typing import Any

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .context import api_caller, bearer, json_body, sandbox_of
from .errors import ApiError
from .keys import ACCESS_TOKEN_TTL, Principal
from .routing import Router

__all__ = ["router", "REFRESH_TOKEN_TTL_DAYS", "MIN_PASSWORD_LENGTH"]

router = Router()

REFRESH_TOKEN_TTL_DAYS = 30
MIN_PASSWORD_LENGTH = 6
MAX_PASSWORD_LENGTH = 1024
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[^@\s]{{1,64}}@{_LABEL}(?:\.{_LABEL})+$")
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so that a login for an unknown user
    takes as long as a wrong password: the timing does not say who has an account."""
    return _HASHER.hash(secrets.token_urlsafe(16))


# --- routes ---------------------------------------------------------------------------


@router.post("/auth/v1/signup")
async def signup(request: Request) -> JSONResponse:
    """Create a user of the apikey's project; no session is returned."""
    principal = await _caller(request, write=True)
    body = await json_body(request)
    email = _valid_email(body.get("email"))
    password = _valid_password(body.get("password"))
    password_hash = await asyncio.to_thread(_HASHER.hash, password)
    user = await _insert_user(request, principal.project_id, email, password_hash)
    return JSONResponse(_user_json(user), status_code=201)


@router.post("/auth/v1/token")
async def token(request: Request) -> JSONResponse:
    """Sign in: `grant_type=password` (the default) or `grant_type=refresh_token`."""
    principal = await _caller(request, write=False)
    grant = request.query_params.get("grant_type", "password")
    body = await json_body(request)
    if grant == "password":
        user = await _password_grant(request, principal.project_id, body)
    elif grant == "refresh_token":
        user = await _refresh_grant(request, principal.project_id, body)
    else:
        raise ApiError(
            400, "unsupported_grant_type", f"unknown grant_type {grant!r}",
            hint="use grant_type=password (the default) or grant_type=refresh_token",
        )
    return JSONResponse(await _session(request, principal.project_id, user))


@router.get("/auth/v1/user")
async def current_user(request: Request) -> JSONResponse:
    """The signed-in user of an access token (Authorization: Bearer or apikey)."""
    principal = await _signed_in(request)
    row = await sandbox_of(request).pool.fetchrow(
        "SELECT id, email, created_at FROM sandbox.users WHERE id = $1 AND project_id = $2",
        uuid.UUID(principal.user_id or ""), principal.project_id,
    )
    if row is None:
        raise ApiError(401, "user_not_found", "the user of this token no longer exists",
                       hint="sign up again with POST /auth/v1/signup")
    return JSONResponse(_user_json(row))


@router.post("/auth/v1/logout")
async def logout(request: Request) -> Response:
    """Revoke every refresh token of the signed-in user; access tokens expire on their own."""
    principal = await _signed_in(request)
    await sandbox_of(request).pool.execute(
        "UPDATE sandbox.refresh_tokens SET used_at = now() "
        "WHERE user_id = $1 AND project_id = $2 AND used_at IS NULL",
        uuid.UUID(principal.user_id or ""), principal.project_id,
    )
    return Response(status_code=204)


# --- validation -----------------------------------------------------------------------


def _valid_email(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "invalid_email", "email is required",
                       hint='send {"email": "user@example.com", "password": "..."}')
    email = value.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise ApiError(400, "invalid_email", f"{value!r} is not a valid email address",
                       hint="use an address like user@example.com")
    return email


def _valid_password(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ApiError(400, "invalid_password", "password is required",
                       hint=f"send a password of at least {MIN_PASSWORD_LENGTH} characters")
    if len(value) < MIN_PASSWORD_LENGTH:
        raise ApiError(400, "weak_password",
                       f"the password is too short: at least {MIN_PASSWORD_LENGTH} characters are required",
                       hint="choose a longer password")
    if len(value) > MAX_PASSWORD_LENGTH:
        raise ApiError(400, "invalid_password",
                       f"the password is too long: at most {MAX_PASSWORD_LENGTH} characters")
    return value


# --- users ----------------------------------------------------------------------------


async def _insert_user(request: Request, project_id: str, email: str, password_hash: str) -> asyncpg.Record:
    try:
        return await sandbox_of(request).pool.fetchrow(
            "INSERT INTO sandbox.users (project_id, email, password_hash) VALUES ($1, $2, $3) "
            "RETURNING id, email, created_at",
            project_id, email, password_hash,
        )
    except asyncpg.UniqueViolationError:
        raise ApiError(409, "user_exists", f"a user with email {email} already exists in this project",
                       hint="sign in with POST /auth/v1/token instead") from None


async def _password_grant(request: Request, project_id: str, body: dict[str, Any]) -> asyncpg.Record:
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
        raise ApiError(400, "invalid_request", "email and password are required",
                       hint='send {"email": "...", "password": "..."}')
    row = await sandbox_of(request).pool.fetchrow(
        "SELECT id, email, created_at, password_hash FROM sandbox.users WHERE project_id = $1 AND email = $2",
        project_id, email.strip().lower(),
    )
    if not await asyncio.to_thread(_verify, row["password_hash"] if row else _dummy_hash(), password):
        raise _invalid_credentials()
    if row is None:  # the dummy hash matched: cannot happen, but never sign in no one
        raise _invalid_credentials()
    return row


def _invalid_credentials() -> ApiError:
    # One answer for an unknown email and a wrong password: no user enumeration.
    return ApiError(400, "invalid_grant", "invalid email or password",
                    hint="check the credentials; sign up first with POST /auth/v1/signup")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def _refresh_grant(request: Request, project_id: str, body: dict[str, Any]) -> asyncpg.Record:
    raw = body.get("refresh_token")
    if not isinstance(raw, str) or not raw:
        raise ApiError(400, "invalid_request", "refresh_token is required",
                       hint='send {"refresh_token": "..."} from the last sign-in')
    # One UPDATE marks the token used: two concurrent refreshes cannot both succeed.
    row = await sandbox_of(request).pool.fetchrow(
        "WITH used AS (UPDATE sandbox.refresh_tokens SET used_at = now() "
        "  WHERE token_hash = $1 AND project_id = $2 AND used_at IS NULL AND expires_at > now() "
        "  RETURNING user_id) "
        "SELECT u.id, u.email, u.created_at FROM used JOIN sandbox.users u ON u.id = used.user_id",
        _sha256(raw), project_id,
    )
    if row is None:
        raise ApiError(
            400, "invalid_grant", "the refresh token is invalid, expired or already used",
            hint="refresh tokens are single-use: keep the new one from each refresh, or sign in again",
        )
    return row


# --- sessions -------------------------------------------------------------------------


async def _session(request: Request, project_id: str, user: asyncpg.Record) -> dict[str, Any]:
    sandbox = sandbox_of(request)
    refresh = secrets.token_urlsafe(32)
    await sandbox.pool.execute(
        "INSERT INTO sandbox.refresh_tokens (token_hash, user_id, project_id, expires_at) "
        f"VALUES ($1, $2, $3, now() + interval '{REFRESH_TOKEN_TTL_DAYS} days')",
        _sha256(refresh), user["id"], project_id,
    )
    return {
        "access_token": sandbox.keys.access_token(project_id, str(user["id"]), user["email"]),
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_TTL,
        "refresh_token": refresh,
        "user": _user_json(user),
    }


async def _caller(request: Request, *, write: bool) -> Principal:
    principal, _ = await api_caller(request, write=write)
    _check_same_project(request, principal)
    return principal


async def _signed_in(request: Request) -> Principal:
    principal = await _caller(request, write=False)
    if principal.role != "authenticated" or not principal.user_id:
        raise ApiError(
            401, "not_authenticated", "this route needs a user's access token, not a project key",
            hint="sign in with POST /auth/v1/token and send Authorization: Bearer <access_token>",
        )
    return principal


def _check_same_project(request: Request, principal: Principal) -> None:
    """A Bearer token and an apikey sent together must name the same project."""
    apikey = request.headers.get("apikey")
    if not apikey or bearer(request) is None or apikey == bearer(request):
        return
    if sandbox_of(request).keys.resolve(apikey).project_id != principal.project_id:
        raise ApiError(401, "project_mismatch", "the access token and the apikey belong to different projects",
                       hint="send the access token with its own project's anon key")


def _user_json(row: asyncpg.Record) -> dict[str, Any]:
    return {"id": str(row["id"]), "email": row["email"], "created_at": row["created_at"].isoformat()}


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
