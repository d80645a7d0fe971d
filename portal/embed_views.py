"""The booking widget's pages (/embed/themes/<id>/...): framed by the merchant's own sites.

static/js/widget.js, on the merchant's page, frames the theme's next open
times (`times`); a click opens booking and checkout in an overlay frame (or a
new tab on small screens). Every page of that flow lives under the theme's
/embed/ prefix, so it knows whose site may frame it:

- the response allows exactly the theme's merchant's `widget_origins` as
  `Content-Security-Policy: frame-ancestors` and drops `X-Frame-Options`
  (`embeddable`); every other page of BookWise keeps DENY and 'none'. A merchant
  with no allowed origins gets 'none' here too;
- log in, sign up, book, pay and the result keep to /embed/ (links, `next`,
  redirects), through the same services and forms as the portal: the checkout
  is the portal's own view and template (`embed` in the context selects
  templates/embed/base.html and the widget's buttons);
- static/js/embed.js tells the merchant's page what happened with
  `postMessage`, only to the merchant's allowed origins (data-embed-origins).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from csp.constants import NONE
from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from accounts import views as account_views
from bookings import catalog_selectors
from bookings import selectors as booking_selectors
from bookings import views as booking_views
from bookings.models import BookingStatus
from bookings.pricing import slot_flat_price, slot_unit_price
from bookings.services import booking_join
from bookings.throttles import join_attempt_wait
from bookwise.errors import DomainError, InvalidInput
from bookwise.web import form_add_domain_error
from catalog import selectors
from catalog.forms import BookSlotForm
from catalog.models import Slot, SlotStatus, Theme
from merchants.widget import widget_origin_normalize

TIMES_SHOWN = 8
TIMES_WINDOW_DAYS = 60
SLOTS_SCANNED = 200
# What the merchant's page hears (static/js/embed.js -> widget.js -> a `bookwise:booking` DOM event).
OUTCOMES = {
    BookingStatus.CONFIRMED: "confirmed",
    BookingStatus.ATTENDED: "confirmed",
    BookingStatus.NO_SHOW: "confirmed",
    BookingStatus.CANCELLED: "cancelled",
    BookingStatus.EXPIRED: "expired",
}


@dataclass
class Embed:
    """What a widget page knows about where it runs: the theme and the sites that may frame it."""

    theme: Theme
    origins: list[str] = field(default_factory=list)

    @property
    def origins_attr(self) -> str:
        return " ".join(self.origins)


def embed_headers(response: HttpResponseBase, origins: list[str]) -> HttpResponseBase:
    """Let exactly `origins` frame the response (none: it stays unframeable, like every other page)."""
    response._csp_replace = {"frame-ancestors": list(origins) or [NONE]}  # type: ignore[attr-defined]
    if origins:
        response.xframe_options_exempt = True  # type: ignore[attr-defined]
        # A tab the widget opened on a phone keeps `window.opener`, to report the outcome to the page.
        response["Cross-Origin-Opener-Policy"] = "unsafe-none"
    return response


def _valid_origins(stored: object) -> list[str]:
    """The stored origins that are still plain origins (they go into a header): the rest is ignored."""
    valid = []
    for origin in stored if isinstance(stored, list) else []:
        try:
            if isinstance(origin, str) and widget_origin_normalize(origin) == origin:
                valid.append(origin)
        except InvalidInput:
            continue
    return valid


def embeddable(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Resolve the theme of the URL (as the caller may see it, else 404), run the page, set its framing headers."""

    @wraps(view)
    def wrapped(request: HttpRequest, theme_id: int, *args: Any, **kwargs: Any) -> HttpResponseBase:
        theme = get_object_or_404(catalog_selectors.theme_visible_to(user=request.user), pk=theme_id)
        embed = Embed(theme=theme, origins=_valid_origins(theme.merchant.widget_origins))
        request.embed = embed  # type: ignore[attr-defined]  # read by portal.context_processors.embed
        return embed_headers(view(request, theme, *args, **kwargs), embed.origins)

    return wrapped


def _book_url(theme: Theme, slot_id: int | str | None = None) -> str:
    url = reverse("embed:book", args=[theme.pk])
    return f"{url}?{urlencode({'slot': slot_id})}" if slot_id else url


def _login_url(theme: Theme, next_url: str) -> str:
    return f"{reverse('embed:login', args=[theme.pk])}?{urlencode({'next': next_url})}"


def _is_embed_url(url: str, theme: Theme) -> bool:
    return url.startswith(reverse("embed:times", args=[theme.pk]))


@require_safe
@embeddable
def times(request: HttpRequest, theme: Theme) -> HttpResponse:
    """The theme's next open times with seats, as links to book them (the widget opens them in its overlay)."""
    now = timezone.now()
    slots = catalog_selectors.slot_list_for_theme(
        theme_id=theme.pk, start=now, end=now + timedelta(days=TIMES_WINDOW_DAYS), now=now
    ).filter(status=SlotStatus.OPEN)[:SLOTS_SCANNED]
    shown: list[Slot] = []
    for slot in slots:
        seats = selectors.bookable_seats(seats_left=slot.seats_left, min_party=theme.min_party)
        if seats <= 0:
            continue
        slot.theme = theme
        slot.seats_bookable = seats
        slot.unit_price = slot_unit_price(slot=slot)
        slot.flat_price = slot_flat_price(slot=slot)
        slot.book_url = _book_url(theme, slot.pk)
        shown.append(slot)
        if len(shown) == TIMES_SHOWN:
            break
    return render(
        request,
        "embed/times.html",
        {
            "theme": theme,
            "merchant": theme.merchant,
            "slots": shown,
            "bookable": selectors.theme_is_bookable(theme=theme),
            "more_url": request.build_absolute_uri(reverse("portal:theme-detail", args=[theme.pk])),
        },
    )


def _chosen_slot(request: HttpRequest, theme: Theme, slot_id: Any) -> Slot | None:
    try:
        pk = int(slot_id)
    except (TypeError, ValueError):
        return None
    now = timezone.now()
    slot = catalog_selectors.slot_list_for_theme(theme_id=theme.pk, now=now).filter(pk=pk).first()
    if slot is None:
        return None
    slot.theme = theme
    slot.seats_bookable = selectors.bookable_seats(seats_left=slot.seats_left, min_party=theme.min_party)
    slot.unit_price = slot_unit_price(slot=slot)
    slot.flat_price = slot_flat_price(slot=slot)
    return slot


@never_cache
@require_http_methods(["GET", "POST"])
@embeddable
def book(request: HttpRequest, theme: Theme) -> HttpResponse:
    """One chosen time: log in (or sign up) first, then the party size or tickets; POST books it (`booking_join`)."""
    slot_id = request.POST.get("slot") if request.method == "POST" else request.GET.get("slot")
    here = _book_url(theme, slot_id)
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect(_login_url(theme, here))
        return render(
            request,
            "embed/book.html",
            {
                "theme": theme,
                "slot": _chosen_slot(request, theme, slot_id),
                "login_url": _login_url(theme, here),
                "register_url": f"{reverse('embed:register', args=[theme.pk])}?{urlencode({'next': here})}",
            },
        )
    form = BookSlotForm(request.POST or None, theme=theme, user=request.user, initial={"slot": slot_id})
    form.fields["slot"].widget = forms.HiddenInput()  # chosen in the times list
    status = 200
    if request.method == "POST":
        # Counted like the portal's and the API's joins, in the same per-user bucket.
        wait = join_attempt_wait(request)
        if wait:
            form.is_valid()
            form.add_error(None, f"Too many booking attempts in a short time. Try again in {wait} seconds.")
            status = 429
        elif form.is_valid():
            try:
                booking = booking_join(slot_id=form.cleaned_data["slot"], customer=request.user, **form.join_kwargs())
            except DomainError as exc:
                form_add_domain_error(form, exc)
            else:
                if booking.status == BookingStatus.CONFIRMED:
                    return redirect("embed:result", theme.pk, booking.pk)
                return redirect("embed:checkout", theme.pk, booking.pk)
        if not form.is_valid() and status == 200:
            status = 400
    return render(
        request,
        "embed/book.html",
        {
            "theme": theme,
            "slot": _chosen_slot(request, theme, slot_id),
            "form": form,
            "ticket_fields": form.ticket_fields(),
        },
        status=status,
    )


class EmbedLoginView(account_views.LoginView):
    """The portal's login (same form and throttles) in the widget: its links and `next` stay in /embed/."""

    template_name = "embed/login.html"

    def get_default_redirect_url(self) -> str:
        return _book_url(self.request.embed.theme)  # type: ignore[attr-defined]

    def get_redirect_url(self) -> str:
        url = super().get_redirect_url()
        return url if url and _is_embed_url(url, self.request.embed.theme) else ""  # type: ignore[attr-defined]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        theme = self.request.embed.theme  # type: ignore[attr-defined]
        context["next"] = self.get_redirect_url() or _book_url(theme)
        return context


_embed_login = EmbedLoginView.as_view()


@embeddable
def login(request: HttpRequest, theme: Theme) -> HttpResponseBase:
    return _embed_login(request)


@embeddable
def register(request: HttpRequest, theme: Theme) -> HttpResponseBase:
    """The portal's sign-up (same form, rules and throttles); then on to the booking it came from."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not _is_embed_url(next_url, theme):
        next_url = _book_url(theme)
    return account_views.register(request, template_name="embed/register.html", next_url=next_url)


@embeddable
def checkout(request: HttpRequest, theme: Theme, pk: int) -> HttpResponseBase:
    """The portal's checkout page in the widget; where it would leave for My bookings, the widget's result page."""
    if not request.user.is_authenticated:
        return redirect(_login_url(theme, request.get_full_path()))
    # Only this theme's bookings: the page may be framed by this theme's merchant's sites alone.
    get_object_or_404(booking_selectors.booking_list_for(user=request.user), pk=pk, slot__theme=theme)
    response = booking_views.checkout(request, pk)
    if response.status_code in (301, 302):
        return redirect("embed:result", theme.pk, pk)
    return response


@never_cache
@require_safe
@embeddable
def result(request: HttpRequest, theme: Theme, pk: int) -> HttpResponse:
    """Where a booking in the widget ends: its status in words; embed.js tells the merchant's page."""
    if not request.user.is_authenticated:
        return redirect(_login_url(theme, request.get_full_path()))
    booking = get_object_or_404(
        booking_selectors.booking_list_for(user=request.user).select_related("slot__theme__merchant"),
        pk=pk,
        slot__theme=theme,
    )
    status = booking_selectors.booking_effective_status(booking)
    if status == BookingStatus.PENDING_PAYMENT and booking.amount > 0:
        messages.info(request, "This booking is not paid yet.")
        return redirect("embed:checkout", theme.pk, booking.pk)
    return render(
        request,
        "embed/result.html",
        {
            "booking": booking,
            "slot": booking.slot,
            "theme": theme,
            "merchant": theme.merchant,
            "status": status,
            "status_label": BookingStatus(status).label,
            "outcome": OUTCOMES.get(status, ""),
        },
    )
