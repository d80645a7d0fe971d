from __future__ import annotations

import unicodedata
import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class Role(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    MERCHANT = "merchant", "Merchant"
    ADMIN = "admin", "Admin"


def email_normalize(email: str) -> str:
    """The one spelling of an address we store, look up and throttle on.

    NFKC first, so compatibility variants (fullwidth `Ａ`, ligatures, odd spaces)
    become the plain characters they stand for, then trimmed and lowercased like
    the `LOWER(email)` unique index.
    """
    return unicodedata.normalize("NFKC", email).strip().lower()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=email_normalize(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("role", Role.ADMIN)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, email: str) -> User:
        # LOWER(email) = ... uses the case-insensitive unique index; email__iexact
        # (UPPER(...)) would scan the whole table on every login.
        return self.alias(email_lower=Lower("email")).get(email_lower=email_normalize(email))


# The JWT claim holding `User.credentials_version` at login: copied into every token of the
# session and checked on each request (accounts.authentication), so a password change or a
# deactivation ends the session's access tokens at once, not only its refresh tokens.
CREDENTIALS_VERSION_CLAIM = "cv"


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an email address."""

    email = models.EmailField("email address", max_length=254, unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Can log into Django admin (with its permissions); not an API admin."
    )
    date_joined = models.DateTimeField(default=timezone.now)
    reminder_emails = models.BooleanField(
        default=True, help_text="Reminder emails before a booking's start and the 'how was it?' email after it."
    )
    # The secret iCal feed of this customer's confirmed bookings (accounts/feeds.py); rotated on demand.
    calendar_feed_token = models.CharField(max_length=64, blank=True, default="")
    # Written only by the database: the trigger `accounts_user_credentials_version`
    # (migration 0002) adds one whenever `password` or `is_active` changes, through
    # any path (forms, admin, changepassword, QuerySet.update, raw SQL), and ignores
    # any value the application writes. See accounts.services (token families).
    credentials_version = models.PositiveIntegerField(
        default=0,
        db_default=0,
        editable=False,
        help_text="Bumped by the database when the password or the active flag changes; "
        "refresh-token families opened under an older version are dead.",
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]
        indexes = [
            models.Index(
                fields=["calendar_feed_token"], condition=~models.Q(calendar_feed_token=""), name="user_feed_token_idx"
            ),
            # The admin's booking search by customer name (word prefixes; bookwise.admin_tools). Full-text,
            # not pg_trgm: the embedded PostgreSQL (pgserver) has no pg_trgm.
            GinIndex(SearchVector("full_name", config="simple"), name="user_full_name_search_idx"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_platform_admin(self) -> bool:
        """An API admin: the `admin` role, or a superuser.

        `is_staff` alone is not enough: it only opens Django admin, where the
        user's Django permissions decide what they may see and do.
        """
        return self.role == Role.ADMIN or self.is_superuser

    @property
    def effective_role(self) -> str:
        return Role.ADMIN if self.is_platform_admin else self.role


class RefreshTokenRecord(models.Model):
    """One issued refresh token, linked to its family for reuse detection.

    Every rotation issues a child with the same `family`. Presenting a token
    that was already rotated (`used_at` set) means it was stolen or replayed:
    the whole family is revoked, including the child issued from it.

    `family_started_at` and `credentials_version` are the family's (copied from
    parent to child): when its login happened, and the user's
    `credentials_version` at that login.
    """

    jti = models.CharField(max_length=64, unique=True)
    family = models.UUIDField(default=uuid.uuid4, db_index=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="refresh_tokens")
    parent_jti = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    family_started_at = models.DateTimeField(default=timezone.now)
    credentials_version = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="refresh_expires_idx")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.jti}"
