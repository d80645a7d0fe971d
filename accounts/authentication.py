"""API authentication: simplejwt's, plus "an access token dies with its session's credentials".

Every token of a session carries the user's credentials version at login
(the `cv` claim, accounts.services). A password change, reset or
deactivation bumps the version (a database trigger), which already stops the
session's refresh tokens; this makes its access tokens stop at once too,
instead of living out their remaining minutes.

The user comes from a short-lived cache (accounts.user_cache, AUTH_USER_CACHE_SECONDS)
when it can, so an authenticated request costs no user query. A cached user is
only trusted to accept a token: when the token's version differs from the cached
one, the row is read again and the database decides.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token

from accounts.models import CREDENTIALS_VERSION_CLAIM
from accounts.user_cache import user_cache_store, user_cached


class SessionJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token: Token) -> Any:
        version = validated_token.get(CREDENTIALS_VERSION_CLAIM)
        user_id = validated_token.get(jwt_settings.USER_ID_CLAIM)
        cached = user_cached(user_id) if user_id is not None else None
        if cached is not None and cached.is_active and (version is None or version == cached.credentials_version):
            return cached
        user = super().get_user(validated_token)
        user_cache_store(user)
        # Tokens issued before the claim existed carry none: they expire within ACCESS_TOKEN_LIFETIME.
        if version is not None and version != user.credentials_version:
            raise AuthenticationFailed(
                "The password or the account changed since this session began: log in again.",
                code="session_revoked",
            )
        return user


class SessionJWTScheme(SimpleJWTScheme):
    """The API schema's bearer scheme for it (drf-spectacular matches the exact class)."""

    target_class = "accounts.authentication.SessionJWTAuthentication"
