"""Auth API: register, token pair, refresh rotation, logout, and the caller's profile.

Views parse input with an input serializer, call one service, and render an
output serializer. Throttles run in `APIView.initial()`, before the handler
checks any credential.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import Role, User
from accounts.throttles import (
    LoginEmailThrottle,
    LoginIPThrottle,
    RefreshIPThrottle,
    RegisterEmailThrottle,
    RegisterIPThrottle,
)
from bookwise.openapi import VALIDATION_ERROR, error_response

# --- Serializers --------------------------------------------------------------------


class RegisterInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    full_name = serializers.CharField(max_length=150)


class TokenObtainInputSerializer(serializers.Serializer):
    # Any string: an address that cannot exist is simply wrong credentials (401).
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)


class ProfileUpdateInputSerializer(serializers.Serializer):
    full_name = serializers.CharField(max_length=150)
    reminder_emails = serializers.BooleanField(
        help_text="Reminders before each booking and the 'how was it?' email after it."
    )


class UserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)
    full_name = serializers.CharField(read_only=True)
    role = serializers.ChoiceField(
        choices=Role.choices,
        source="effective_role",
        read_only=True,
        help_text="Effective role: superusers are `admin` (staff status alone is not).",
    )


class MeOutputSerializer(UserOutputSerializer):
    """The caller's own profile: the public fields and their settings."""

    reminder_emails = serializers.BooleanField(
        read_only=True, help_text="Reminders before each booking and the 'how was it?' email after it."
    )


class TokenPairOutputSerializer(serializers.Serializer):
    access = serializers.CharField(read_only=True, help_text="Bearer token, short-lived.")
    refresh = serializers.CharField(read_only=True, help_text="Single use: each refresh returns a new one.")


_UNAUTHORIZED = error_response("Missing, invalid or expired credentials.")
_THROTTLED = error_response("Too many attempts; see `Retry-After`.")


# --- Views ----------------------------------------------------------------------------


class _CredentialsView(APIView):
    """Anonymous endpoints that take credentials in the body; a 401 names the Bearer scheme."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if response.status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in response:
            response["WWW-Authenticate"] = self.get_authenticate_header(self.request)
        return response


class RegisterView(_CredentialsView):
    throttle_classes = [RegisterIPThrottle, RegisterEmailThrottle]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_register",
        summary="Register a customer account",
        request=RegisterInputSerializer,
        responses={201: UserOutputSerializer, 400: VALIDATION_ERROR, 429: _THROTTLED},
    )
    def post(self, request: Request) -> Response:
        data = _validated(RegisterInputSerializer, request.data)
        user = services.user_create(email=data["email"], password=data["password"], full_name=data["full_name"])
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenObtainView(_CredentialsView):
    throttle_classes = [LoginIPThrottle, LoginEmailThrottle]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_token_obtain",
        summary="Log in: exchange email and password for an access and a refresh token",
        request=TokenObtainInputSerializer,
        responses={200: TokenPairOutputSerializer, 400: VALIDATION_ERROR, 401: _UNAUTHORIZED, 429: _THROTTLED},
    )
    def post(self, request: Request) -> Response:
        data = _validated(TokenObtainInputSerializer, request.data)
        access, refresh = services.token_pair_obtain(email=data["email"], password=data["password"], request=request)
        return Response({"access": access, "refresh": refresh})


class TokenRefreshView(_CredentialsView):
    throttle_classes = [RefreshIPThrottle]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_token_refresh",
        summary="Rotate a refresh token",
        description=(
            "Returns a new pair; the refresh token sent is dead afterwards. Sending a used refresh "
            "token again is treated as theft: it is refused and every token issued from it is revoked "
            "(401 `token_reused`). A session also ends when the user's password changes or is reset, or the "
            "account is deactivated (401 `session_revoked`), and when its login is older than "
            "`JWT_REFRESH_FAMILY_MAX_DAYS` (401 `session_expired`): log in again."
        ),
        request=RefreshInputSerializer,
        responses={200: TokenPairOutputSerializer, 400: VALIDATION_ERROR, 401: _UNAUTHORIZED, 429: _THROTTLED},
    )
    def post(self, request: Request) -> Response:
        data = _validated(RefreshInputSerializer, request.data)
        access, refresh = services.token_refresh_rotate(raw_refresh=data["refresh"])
        return Response({"access": access, "refresh": refresh})


class LogoutView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_logout",
        summary="Log out: revoke a refresh token of the caller (and its whole family)",
        request=RefreshInputSerializer,
        responses={
            205: OpenApiResponse(description="Revoked; the client should drop its tokens."),
            400: VALIDATION_ERROR,
            401: _UNAUTHORIZED,
            403: error_response("The refresh token belongs to another user."),
        },
    )
    def post(self, request: Request) -> Response:
        data = _validated(RefreshInputSerializer, request.data)
        services.token_revoke(raw_refresh=data["refresh"], user=request.user)
        return Response(status=status.HTTP_205_RESET_CONTENT)


class MeView(APIView):
    permission_classes = [IsAuthenticated]
    http_method_names = ["get", "patch", "head", "options"]

    @extend_schema(
        tags=["users"],
        operation_id="users_me_retrieve",
        responses={200: MeOutputSerializer, 401: _UNAUTHORIZED},
    )
    def get(self, request: Request) -> Response:
        return Response(MeOutputSerializer(request.user).data)

    @extend_schema(
        tags=["users"],
        operation_id="users_me_update",
        summary="Change the caller's full name or reminder emails (email and role are read-only and ignored)",
        request=ProfileUpdateInputSerializer,
        responses={200: MeOutputSerializer, 400: VALIDATION_ERROR, 401: _UNAUTHORIZED},
    )
    def patch(self, request: Request) -> Response:
        user: User = request.user
        data = _validated(ProfileUpdateInputSerializer, request.data, partial=True)
        if "full_name" in data:
            user = services.user_update_profile(user=user, full_name=data["full_name"])
        if "reminder_emails" in data:
            user = services.user_set_reminder_emails(user=user, enabled=data["reminder_emails"])
        return Response(MeOutputSerializer(user).data)


def _validated(serializer_class: type[serializers.Serializer], data, *, partial: bool = False) -> dict:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
