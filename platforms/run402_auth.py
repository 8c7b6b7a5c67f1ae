"""A project's user auth: `Run402.auth.signup/login/refresh/user/logout`.

Signup, login and refresh are made with the project's anon key (`apikey` header); the
signed-in user's routes with the access token (`Authorization: Bearer`). Passwords and
tokens are scrubbed from any error text; `Session` keeps its tokens out of its repr.
A refresh token works once: use the one from the new `Session`.
"""

from __future__ import annotations

from .run402_http import Call, Sender, parse
from .run402_models_data import AuthUser, Session

__all__ = ["AuthApi"]


class AuthApi:
    """`/auth/v1/*` of the project a key belongs to."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    async def signup(self, anon_key: str, email: str, password: str) -> AuthUser:
        """Create a user (no session: call `login` next)."""
        answer = await self._sender.send(Call(
            route="auth_signup", json={"email": email, "password": password},
            headers={"apikey": anon_key}, secrets=(anon_key, password),
        ))
        return parse(AuthUser, answer)

    async def login(self, anon_key: str, email: str, password: str) -> Session:
        """Sign in with email and password."""
        answer = await self._sender.send(Call(
            route="auth_token", params=[("grant_type", "password")],
            json={"email": email, "password": password},
            headers={"apikey": anon_key}, secrets=(anon_key, password),
        ))
        return parse(Session, answer)

    async def refresh(self, anon_key: str, refresh_token: str) -> Session:
        """A new session for a refresh token (which is used up)."""
        answer = await self._sender.send(Call(
            route="auth_token", params=[("grant_type", "refresh_token")],
            json={"refresh_token": refresh_token},
            headers={"apikey": anon_key}, secrets=(anon_key, refresh_token),
        ))
        return parse(Session, answer)

    async def user(self, access_token: str) -> AuthUser:
        """The signed-in user of `access_token`."""
        answer = await self._sender.send(Call(
            route="auth_user", headers={"Authorization": f"Bearer {access_token}"}, secrets=(access_token,),
        ))
        return parse(AuthUser, answer)

    async def logout(self, access_token: str) -> None:
        """Revoke the user's refresh tokens (access tokens expire on their own)."""
        await self._sender.send(Call(
            route="auth_logout", headers={"Authorization": f"Bearer {access_token}"}, secrets=(access_token,),
        ))
