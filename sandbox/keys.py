"""Project keys and user tokens: JWTs signed with the sandbox's own secret.

The anon key and the service key are long-lived JWTs naming their project and role;
access tokens are one-hour JWTs naming their user too. A key is bound to its project:
resolving it against another project's route is refused.
"""

from __future__ import annotations

import functools
import json
import math
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Literal

from .errors import ApiError

__all__ = ["KeyRole", "Principal", "KeyRing", "ACCESS_TOKEN_TTL"]

KeyRole = Literal["anon", "service_role", "authenticated"]
ACCESS_TOKEN_TTL = 3600
_CACHE_SIZE = 10_000
_ISSUER = "appwright-sandbox"


@dataclass(frozen=True, kw_only=True)
class Principal:
    """Who a key or token speaks for."""

    project_id: str
    """The project the key belongs to."""
    role: KeyRole
    """anon (read-only, under RLS), service_role (bypasses RLS) or authenticated."""
    user_id: str | None = None
    """The user, for an access token."""
    email: str | None = None
    """The user's email, for an access token."""

    def claims(self) -> dict[str, str]:
        """The claims Postgres sees as `request.jwt.claims`."""
        claims = {"role": self.role, "ref": self.project_id}
        if self.user_id:
            claims["sub"] = self.user_id
        if self.email:
            claims["email"] = self.email
        return claims

    @functools.cached_property
    def claims_json(self) -> str:
        """`claims()` as JSON text, written once per principal (keys are resolved from a cache)."""
        return json.dumps(self.claims())


@dataclass(frozen=True, kw_only=True)
class KeyRing:
    """Issues and checks keys with one secret."""

    secret: str
    """HMAC secret; never leaves the sandbox."""
    _checked: dict[str, tuple[Principal, float]] = field(default_factory=dict, repr=False, compare=False)

    def project_key(self, project_id: str, role: Literal["anon", "service_role"]) -> str:
        """A long-lived anon or service key for a project."""
        claims = {"iss": _ISSUER, "ref": project_id, "role": role, "iat": int(time.time())}
        return _jwt().encode(claims, self.secret, algorithm="HS256")

    def access_token(self, project_id: str, user_id: str, email: str) -> str:
        """A one-hour token for a signed-in user."""
        now = int(time.time())
        claims = {
            "iss": _ISSUER, "ref": project_id, "role": "authenticated",
            "sub": user_id, "email": email, "iat": now, "exp": now + ACCESS_TOKEN_TTL,
        }
        return _jwt().encode(claims, self.secret, algorithm="HS256")

    def resolve(self, token: str | None) -> Principal:
        """The principal of a key or token, or a 401 that says what is wrong."""
        # Every API call carries a key: checking its signature once is enough until it expires.
        hit = self._checked.get(token or "")
        if hit is not None and time.time() < hit[1]:
            return hit[0]
        principal, expires = self._decode(token)
        if len(self._checked) >= _CACHE_SIZE:
            self._checked.clear()
        self._checked[token or ""] = (principal, expires)
        return principal

    def _decode(self, token: str | None) -> tuple[Principal, float]:
        if not token:
            raise ApiError(
                401, "missing_key", "no API key was sent",
                hint="send the anon key, service key or an access token in the apikey header",
            )
        jwt = _jwt()
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"], issuer=_ISSUER)
        except jwt.ExpiredSignatureError:
            raise ApiError(
                401, "token_expired", "the access token has expired",
                hint="get a new one with POST /auth/v1/token?grant_type=refresh_token",
            ) from None
        except jwt.PyJWTError:
            raise ApiError(
                401, "invalid_key", "the key or token is not valid for this server",
                hint="use the anon_key or service_key returned when the project was created",
            ) from None
        principal = Principal(
            project_id=claims["ref"], role=claims["role"],
            user_id=claims.get("sub"), email=claims.get("email"),
        )
        return principal, float(claims.get("exp", math.inf))


def _jwt() -> ModuleType:
    # PyJWT loads `cryptography` (~30 ms) for algorithms HS256 never needs: at the first
    # key, not at start-up.
    import jwt

    return jwt
