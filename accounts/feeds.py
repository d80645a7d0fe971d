"""A customer's secret calendar feed link (/feeds/customers/<token>.ics): created on first use, rotatable.

The feed of the customer's confirmed bookings is built in bookings.feeds; this
module only owns the token on the user row, like merchants.feeds does for a merchant.
"""

from __future__ import annotations

import secrets

from django.urls import reverse

from accounts.models import User
from accounts.user_cache import user_cache_forget
from bookwise.emails import absolute_url

TOKEN_BYTES = 32
TOKEN_MIN_LENGTH, TOKEN_MAX_LENGTH = 32, 64


def token_is_well_formed(token: str) -> bool:
    return TOKEN_MIN_LENGTH <= len(token) <= TOKEN_MAX_LENGTH and all(c.isalnum() or c in "-_" for c in token)


def user_feed_token(*, user: User) -> str:
    """The user's feed token, created on the first call (a conditional UPDATE: two first calls agree)."""
    if not user.calendar_feed_token:
        User.objects.filter(pk=user.pk, calendar_feed_token="").update(
            calendar_feed_token=secrets.token_urlsafe(TOKEN_BYTES)
        )
        user_cache_forget(user.pk)  # the API's cached user (accounts.user_cache) must show the token
        user.calendar_feed_token = User.objects.filter(pk=user.pk).values_list("calendar_feed_token", flat=True).get()
    return user.calendar_feed_token


def user_feed_rotate(*, user: User) -> str:
    """A new feed token; the old feed URL answers 404 from now on."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    User.objects.filter(pk=user.pk).update(calendar_feed_token=token)
    user_cache_forget(user.pk)
    user.calendar_feed_token = token
    return token


def user_by_feed_token(token: str) -> User | None:
    """The active user whose feed `token` opens, or None."""
    if not token_is_well_formed(token):
        return None
    return User.objects.filter(calendar_feed_token=token, is_active=True).first()


def user_feed_url(token: str) -> str:
    """The absolute feed URL, on SITE_URL."""
    return absolute_url(reverse("portal:customer-calendar-feed", kwargs={"token": token}))
