"""Account writes: registration, roles, profile, and the refresh-token families.

Refresh tokens are simplejwt `RefreshToken`s carrying a `family` claim. Every
issued refresh token has a `RefreshTokenRecord`; a rotation marks the record
used and issues a child in the same family. A token presented again after it
was rotated means two parties hold it (theft or replay), so the whole family is
revoked, the child included. Every rotation and revocation of a family runs
in one transaction holding the family's lock (its oldest record's row), so two
concurrent refreshes of one token give at most one child, and a revocation
never misses a child committed concurrently.

A family also dies when the user's credentials change, and when it gets old:

- Password changed or reset, account deactivated (or reactivated): the database
  trigger behind `User.credentials_version` bumps the version whenever the
  `password` hash or `is_active` changes. A family records the version at its
  login, and a rotation refuses (401 `session_revoked`) and revokes a family
  whose version is not the user's current one. Nothing that changes a password
  has to remember to revoke anything: Django's password change and reset views,
  the admin's user and password forms, `manage.py changepassword`, `set_password`
  then `save()`, a `QuerySet.update()` or raw SQL all bump the version, and a
  rotation racing the change copies the old version into its child, which dies
  at its next rotation. (A password hash upgraded by Django at login counts as a
  change too: the user's other API sessions then log in again, once.)
- Age: a family lives at most `JWT_REFRESH_FAMILY_MAX_DAYS` from its login,
  however often it is rotated (401 `session_expired`), and no token of it
  expires later than that.

Refused families are revoked (records and simplejwt blacklist) when presented;
the version check is what makes them dead, so a family nobody presents again
needs no visit.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import status
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, Token
from rest_framework_simplejwt.utils import datetime_from_epoch, datetime_to_epoch

# email_normalize lives with the model (the login looks users up with it); callers use it from here.
from accounts.models import CREDENTIALS_VERSION_CLAIM, RefreshTokenRecord, Role, User, email_normalize
from bookwise.errors import DomainError, Forbidden, InvalidInput

FAMILY_CLAIM = "family"


class AuthenticationRejected(DomainError):
    """Credentials or a token were refused: the API answers 401."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, http_status=status.HTTP_401_UNAUTHORIZED)


class FamilyRefreshToken(RefreshToken):
    """A refresh token that skips simplejwt's blacklist check on decode.

    A rotated-out token is blacklisted, and simplejwt would refuse it before we
    could see it was *reused*; the record check in `token_refresh_rotate` makes
    the decision instead (and still honours the blacklist).
    """

    def verify(self) -> None:
        Token.verify(self)


# --- Users ------------------------------------------------------------------------


def user_create(*, email: str, password: str, full_name: str) -> User:
    email = email_normalize(email)
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise DjangoValidationError({"email": exc.messages}) from exc
    candidate = User(email=email, full_name=full_name)
    try:
        # With the user's attributes, so a password resembling the email is refused (and the
        # name too, if AUTH_PASSWORD_VALIDATORS lists `full_name` in user_attributes).
        password_validation.validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise DjangoValidationError({"password": exc.messages}) from exc

    if _email_registered(email):
        raise _email_taken()
    try:
        # Two registrations racing past the check above: the unique constraint decides.
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, full_name=full_name)
    except IntegrityError as exc:
        raise _email_taken() from exc


def _email_registered(email: str) -> bool:
    # LOWER(email) = ... goes through the case-insensitive unique index.
    return User.objects.alias(email_lower=Lower("email")).filter(email_lower=email).exists()


def _email_taken() -> InvalidInput:
    return InvalidInput("email_taken", "A user with this email address already exists.", field="email")


def user_update_profile(*, user: User, full_name: str) -> User:
    user.full_name = full_name
    user.save(update_fields=["full_name"])
    return user


def user_set_reminder_emails(*, user: User, enabled: bool) -> User:
    """Reminders before a booking's start and the "how was it?" email after it (bookings.reminders), on or off.

    Read again by each email task before it sends: turning them off stops the ones already queued.
    """
    if user.reminder_emails != enabled:
        user.reminder_emails = enabled
        user.save(update_fields=["reminder_emails"])
    return user


def user_set_role(*, user: User, role: str, actor: User | None = None) -> User:
    """Set a user's role. `actor`, when given (admin pages, API), must be a platform admin.

    Superusers count as admins whatever this field says (`User.effective_role`);
    `is_staff` only opens Django admin.
    """
    if actor is not None and not actor.is_platform_admin:
        raise Forbidden("not_admin", "Only platform admins may change roles.")
    if role not in Role.values:
        raise InvalidInput("invalid_role", f"Unknown role {role!r}.", field="role")
    if user.role != role:
        user.role = role
        user.save(update_fields=["role"])
    return user


# --- Tokens -----------------------------------------------------------------------


def token_pair_obtain(*, email: str, password: str, request: HttpRequest | None = None) -> tuple[str, str]:
    """Check credentials and open a new token family. Inactive users are refused like wrong passwords."""
    user = authenticate(request, email=email_normalize(email), password=password)
    if user is None:
        raise AuthenticationRejected("invalid_credentials", "No active account found with these credentials.")
    return token_pair_issue(user=user)


def token_pair_issue(*, user: User) -> tuple[str, str]:
    """A new session: the first refresh token of a new family, and an access token.

    `user` carries the password hash that was just checked. The family takes the
    credentials version stored with that same hash: if the password changed since
    the check, the login is refused; if it changes right after, the family is
    already behind and dies at its first rotation.
    """
    version = (
        User.objects.filter(pk=user.pk, password=user.password, is_active=True)
        .values_list("credentials_version", flat=True)
        .first()
    )
    if version is None:
        raise AuthenticationRejected("invalid_credentials", "No active account found with these credentials.")
    refresh = _refresh_issue(
        user=user, family=uuid.uuid4(), started_at=timezone.now(), credentials_version=version, parent_jti=""
    )
    return str(refresh.access_token), str(refresh)


def token_refresh_rotate(*, raw_refresh: str) -> tuple[str, str]:
    """Exchange a refresh token for a new pair; the presented token is dead afterwards.

    Refused, and its whole family revoked: a token already rotated or whose family
    was revoked (`token_reused`), a family older than the user's last password or
    active-flag change (`session_revoked`), a family past its maximum age
    (`session_expired`). The revocation must survive the refusal, so it commits
    before the error is raised.
    """
    token = _refresh_decode(raw_refresh)
    family = _family_claim(token)
    if family is None:
        raise _token_invalid()
    with transaction.atomic():
        _family_lock(family)
        record = (
            RefreshTokenRecord.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(jti=token[jwt_settings.JTI_CLAIM], family=family)
            .first()
        )
        if record is None or not _same_user(record, token):
            raise _token_invalid()
        refusal = _rotation_refusal(record)
        if refusal is not None:
            _family_revoke(family=family)
        else:
            record.used_at = timezone.now()
            record.save(update_fields=["used_at"])
            token.blacklist()
            child = _refresh_issue(
                user=record.user,
                family=family,
                started_at=record.family_started_at,
                credentials_version=record.credentials_version,
                parent_jti=record.jti,
            )
    if refusal is not None:
        raise refusal
    return str(child.access_token), str(child)


def _rotation_refusal(record: RefreshTokenRecord) -> AuthenticationRejected | None:
    """Why `record` may not be rotated, or None. Caller holds the family lock; `record.user` is fresh."""
    user = record.user
    if not user.is_active or record.credentials_version != user.credentials_version:
        return AuthenticationRejected(
            "session_revoked", "The password or the account changed since this session began: log in again."
        )
    if timezone.now() >= _family_ends_at(record.family_started_at):
        return AuthenticationRejected(
            "session_expired",
            f"Sessions last at most {settings.JWT_REFRESH_FAMILY_MAX_DAYS} days: log in again.",
        )
    if record.used_at is not None or _family_is_revoked(record.family) or _is_blacklisted(record.jti):
        return AuthenticationRejected("token_reused", "This refresh token was already used; the session is revoked.")
    return None


def _family_ends_at(started_at: datetime) -> datetime:
    return started_at + timedelta(days=settings.JWT_REFRESH_FAMILY_MAX_DAYS)


def token_revoke(*, raw_refresh: str, user: User) -> None:
    """Log out: revoke the family of `raw_refresh`, which must belong to `user`.

    Revoking an already revoked family is a no-op, so logging out twice succeeds.
    """
    try:
        token = FamilyRefreshToken(raw_refresh)  # type: ignore[arg-type]  # simplejwt types the encoded str as Token
    except TokenError as exc:
        raise _logout_token_invalid() from exc
    family = _family_claim(token)
    if family is None:
        raise _logout_token_invalid()
    record = RefreshTokenRecord.objects.filter(jti=token[jwt_settings.JTI_CLAIM], family=family).first()
    if record is None:
        raise _logout_token_invalid()
    if record.user_id != user.pk:
        raise Forbidden("token_not_yours", "This refresh token belongs to another user.")
    with transaction.atomic():
        _family_lock(family)
        _family_revoke(family=family)


def _refresh_issue(
    *, user: User, family: uuid.UUID, started_at: datetime, credentials_version: int, parent_jti: str
) -> RefreshToken:
    refresh = RefreshToken()
    refresh[jwt_settings.USER_ID_CLAIM] = str(getattr(user, jwt_settings.USER_ID_FIELD))
    refresh[FAMILY_CLAIM] = str(family)
    refresh[CREDENTIALS_VERSION_CLAIM] = credentials_version  # simplejwt copies it into the access token
    # No token outlives its family.
    family_ends_at = _family_ends_at(started_at)
    if datetime_from_epoch(refresh["exp"]) > family_ends_at:
        refresh["exp"] = datetime_to_epoch(family_ends_at)
    jti = refresh[jwt_settings.JTI_CLAIM]
    expires_at = datetime_from_epoch(refresh["exp"])
    # simplejwt's own table, so that its blacklist (and admin) know every token.
    OutstandingToken.objects.create(
        user=user, jti=jti, token=str(refresh), created_at=refresh.current_time, expires_at=expires_at
    )
    RefreshTokenRecord.objects.create(
        jti=jti,
        family=family,
        user=user,
        parent_jti=parent_jti,
        created_at=refresh.current_time,
        expires_at=expires_at,
        family_started_at=started_at,
        credentials_version=credentials_version,
    )
    return refresh


def _refresh_decode(raw_refresh: str) -> FamilyRefreshToken:
    try:
        return FamilyRefreshToken(raw_refresh)  # type: ignore[arg-type]  # simplejwt types the encoded str as Token
    except TokenError as exc:
        raise _token_invalid() from exc


def _family_claim(token: Token) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(token.get(FAMILY_CLAIM)))
    except ValueError:
        return None


def _family_lock(family: uuid.UUID) -> None:
    """Serialise every rotation and revocation of one family on its oldest record's row.

    Locking only the presented record would let two revocations of one family
    (each holding its own record, each updating the other's) deadlock, and let a
    rotation commit a child that a concurrent revocation does not see.
    """
    RefreshTokenRecord.objects.select_for_update(of=("self",)).filter(family=family).order_by("pk").values_list(
        "pk", flat=True
    ).first()


def _logout_token_invalid() -> InvalidInput:
    return InvalidInput("token_not_valid", "Token is invalid or expired.", field="refresh")


def _token_invalid() -> AuthenticationRejected:
    return AuthenticationRejected("token_not_valid", "Token is invalid or expired.")


def _same_user(record: RefreshTokenRecord, token: Token) -> bool:
    return str(record.user_id) == str(token.get(jwt_settings.USER_ID_CLAIM))


def _family_is_revoked(family: uuid.UUID) -> bool:
    # Any revoked member revokes the family: a rotation racing a revocation can
    # commit a child the revoking UPDATE did not see, and that child must die too.
    return RefreshTokenRecord.objects.filter(family=family, revoked_at__isnull=False).exists()


def _is_blacklisted(jti: str) -> bool:
    return BlacklistedToken.objects.filter(token__jti=jti).exists()


def _family_revoke(*, family: uuid.UUID) -> None:
    """Revoke every record of `family` and blacklist its outstanding tokens. Caller holds a transaction."""
    RefreshTokenRecord.objects.filter(family=family, revoked_at__isnull=True).update(revoked_at=timezone.now())
    jtis = RefreshTokenRecord.objects.filter(family=family).values_list("jti", flat=True)
    outstanding_ids = OutstandingToken.objects.filter(jti__in=jtis, blacklistedtoken__isnull=True).values_list(
        "id", flat=True
    )
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token_id=token_id) for token_id in outstanding_ids], ignore_conflicts=True
    )
