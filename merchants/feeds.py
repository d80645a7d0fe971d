"""The merchant's secret calendar feed link: its token, created on first use and rotated on demand.

The token is the only credential of the feed URL (/feeds/merchants/<token>.ics,
served by bookings.feed_views): 32 random bytes, URL-safe. Rotating it makes
the old URL answer 404 at once. The feed itself (slots and who is booked) is
built one layer up, in bookings.feeds.
"""

from __future__ import annotations

import secrets

from django.db.models import QuerySet
from django.urls import reverse

from bookwise.emails import absolute_url
from merchants.models import Merchant, MerchantStatus

TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters; anything outside this shape is not looked up at all.
TOKEN_MIN_LENGTH, TOKEN_MAX_LENGTH = 32, 64


def new_feed_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_is_well_formed(token: str) -> bool:
    return TOKEN_MIN_LENGTH <= len(token) <= TOKEN_MAX_LENGTH and all(c.isalnum() or c in "-_" for c in token)


def merchant_feed_token(*, merchant: Merchant) -> str:
    """The merchant's feed token, created on the first call.

    Two first calls at once agree on one token: the write only fills an empty
    token (a conditional UPDATE), and both read back what was stored.
    """
    if not merchant.calendar_feed_token:
        Merchant.objects.filter(pk=merchant.pk, calendar_feed_token="").update(calendar_feed_token=new_feed_token())
        merchant.calendar_feed_token = (
            Merchant.objects.filter(pk=merchant.pk).values_list("calendar_feed_token", flat=True).get()
        )
    return merchant.calendar_feed_token


def merchant_feed_rotate(*, merchant: Merchant) -> str:
    """A new feed token for the merchant; the old feed URL stops working (404)."""
    token = new_feed_token()
    Merchant.objects.filter(pk=merchant.pk).update(calendar_feed_token=token)
    merchant.calendar_feed_token = token
    return token


def merchant_by_feed_token(token: str) -> Merchant | None:
    """The merchant whose feed `token` opens, or None.

    Served while the merchant is approved, and while suspended with its
    bookings kept (the owner still serves those customers); a merchant whose
    suspension cancelled its bookings, or one still pending, has no feed.
    """
    if not token_is_well_formed(token):
        return None
    served: QuerySet[Merchant] = Merchant.objects.filter(calendar_feed_token=token).filter(
        status=MerchantStatus.APPROVED
    ) | Merchant.objects.filter(
        calendar_feed_token=token, status=MerchantStatus.SUSPENDED, suspension_keeps_bookings=True
    )
    return served.first()


def merchant_feed_url(token: str) -> str:
    """The absolute feed URL, on SITE_URL (what a calendar app on another machine must reach)."""
    return absolute_url(reverse("portal:merchant-calendar-feed", kwargs={"token": token}))
