"""Calendar feed URLs (outside /api/: the secret token in the path is the only credential), and the
customer's "new link" button on My bookings.

GET /feeds/merchants/<token>.ics and /feeds/customers/<token>.ics answer
text/calendar (bookings.feeds), or 404 for a token that opens nothing (never
created, rotated away, a merchant no longer served). Nothing is cached on the
way: the answer names people.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from accounts.feeds import user_by_feed_token, user_feed_rotate, user_feed_token
from bookings.feeds import Feed, customer_feed, merchant_feed
from merchants.feeds import merchant_by_feed_token


def _calendar_response(feed: Feed, *, filename: str) -> HttpResponse:
    response = HttpResponse(feed.body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-store, max-age=0"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_safe
def merchant_calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    merchant = merchant_by_feed_token(token)
    if merchant is None:
        raise Http404("No such calendar feed.")
    return _calendar_response(merchant_feed(merchant=merchant), filename=f"bookwise-merchant-{merchant.pk}.ics")


@require_safe
def customer_calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    user = user_by_feed_token(token)
    if user is None:
        raise Http404("No such calendar feed.")
    return _calendar_response(customer_feed(user=user), filename="bookwise-bookings.ics")


@never_cache
@login_required
@require_POST
def customer_calendar_feed_rotate(request: HttpRequest) -> HttpResponse:
    """My bookings' button: create the personal feed link, or replace it (the old one stops working)."""
    if request.user.calendar_feed_token:
        user_feed_rotate(user=request.user)
        messages.success(request, "Your calendar link was replaced: the old link no longer works.")
    else:
        user_feed_token(user=request.user)
        messages.success(request, "Your calendar link is ready: add it to your calendar app.")
    return redirect("portal:my-bookings")
