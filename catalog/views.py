"""Customer catalog pages: the searchable theme list, a theme's page, booking a slot from it.

Thin: parse the form, scope with a selector, call one service, render.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from bookings import catalog_selectors
from bookings.models import BookingStatus
from bookings.policy import cancellation_policy, effective_policy, policy_summary
from bookings.pricing import is_private, slot_flat_price, slot_unit_price
from bookings.services import booking_join
from bookings.throttles import join_attempt_wait
from bookwise import money
from bookwise.errors import DomainError
from bookwise.web import form_add_domain_error
from catalog import selectors
from catalog.forms import BookSlotForm, CatalogFilterForm
from catalog.models import Slot, SlotStatus, Theme
from reviews.selectors import review_list_for_theme
from reviews.services import has_attended, has_reviewed

PAGE_SIZE = 12
MAX_PAGE = 10_000
SCHEDULE_DAYS = 21
MAX_SLOTS_SHOWN = 500
REVIEWS_SHOWN = 20


@require_safe
def catalog(request: HttpRequest) -> HttpResponse:
    form = CatalogFilterForm(request.GET or None, currencies=selectors.theme_currencies_public())
    page = _page_number(request)
    themes: list[Theme] = []
    has_next = False
    price_currency = None
    extra_query: dict[str, str] = {}
    if not form.is_bound or form.is_valid():
        filters = form.to_filters() if form.is_bound else selectors.ThemeFilters()
        if filters.compares_prices():
            # Prices are compared within one currency: the chosen one, else the results' most common.
            if not filters.currency:
                filters = replace(filters, currency=catalog_selectors.theme_currency_most_common(filters=filters))
                if filters.currency:
                    # Shown selected, and kept by the page links, so every page compares in the same one.
                    form.data = form.data.copy()
                    form.data["currency"] = extra_query["currency"] = filters.currency
            price_currency = filters.currency
        # Page by offset, fetching one row more than shown to know whether a next
        # page exists: no COUNT(*) over the whole catalog (same as the API).
        offset = (page - 1) * PAGE_SIZE
        rows = list(
            catalog_selectors.theme_list_filtered(filters=filters).defer("search_vector")[
                offset : offset + PAGE_SIZE + 1
            ]
        )
        has_next = len(rows) > PAGE_SIZE
        themes = rows[:PAGE_SIZE]
    return render(
        request,
        "portal/catalog.html",
        {
            "form": form,
            "themes": themes,
            "page": page,
            "price_currency": price_currency,
            "next_url": _page_url(request, page + 1, extra_query) if has_next else None,
            "previous_url": _page_url(request, page - 1, extra_query) if page > 1 else None,
        },
    )


def _page_number(request: HttpRequest) -> int:
    try:
        page = int(request.GET.get("page", 1))
    except (TypeError, ValueError):
        return 1
    return min(max(page, 1), MAX_PAGE)


def _page_url(request: HttpRequest, page: int, extra: dict[str, str] | None = None) -> str:
    query = request.GET.copy()
    for key, value in (extra or {}).items():
        query[key] = value
    if page <= 1:
        query.pop("page", None)
    else:
        query["page"] = str(page)
    encoded = query.urlencode()
    return f"{request.path}?{encoded}" if encoded else request.path


@dataclass
class ScheduleDay:
    day: date
    slots: list[Slot] = field(default_factory=list)


@require_safe
def theme_detail(request: HttpRequest, pk: int) -> HttpResponse:
    theme = get_object_or_404(catalog_selectors.theme_visible_to(user=request.user), pk=pk)
    return _render_theme(request, theme, BookSlotForm(theme=theme, user=request.user))


@require_POST
def theme_book(request: HttpRequest, pk: int) -> HttpResponse:
    """Join a slot through `booking_join`; then pay (checkout), or done for a free theme."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("portal:theme-detail", args=[pk]))
    # Counted like the API's joins, in the same per-user bucket (bookings.throttles).
    wait = join_attempt_wait(request)
    theme = get_object_or_404(catalog_selectors.theme_visible_to(user=request.user), pk=pk)
    form = BookSlotForm(request.POST, theme=theme, user=request.user)
    if wait:
        form.is_valid()  # keeps what was chosen on the re-rendered page
        form.add_error(None, f"Too many booking attempts in a short time. Try again in {wait} seconds.")
        return _render_theme(request, theme, form, status=429)
    if form.is_valid():
        try:
            booking = booking_join(slot_id=form.cleaned_data["slot"], customer=request.user, **form.join_kwargs())
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            if booking.status == BookingStatus.CONFIRMED:
                messages.success(request, f"You are booked on {theme.title}: it is free, nothing to pay.")
                return redirect("portal:my-bookings")
            return redirect("portal:checkout", pk=booking.pk)
    return _render_theme(request, theme, form)


def _render_theme(request: HttpRequest, theme: Theme, form: BookSlotForm, *, status: int = 200) -> HttpResponse:
    now = timezone.now()
    slots = list(
        catalog_selectors.slot_list_for_theme(
            theme_id=theme.pk, start=now, end=now + timedelta(days=SCHEDULE_DAYS), now=now
        ).filter(status=SlotStatus.OPEN)[:MAX_SLOTS_SHOWN]
    )
    selected_slot = str(form["slot"].value() or "")
    selected_warning = ""
    tiers = effective_policy(theme)
    for slot in slots:
        # Fewer seats than the smallest party cannot be sold: shown as full (seats_left stays true in the API).
        slot.seats_bookable = selectors.bookable_seats(seats_left=slot.seats_left, min_party=theme.min_party)
        slot.refund_warning = cancellation_policy(
            starts_at=slot.starts_at,
            cutoff_hours=theme.cancellation_cutoff_hours,
            paid=theme.price > 0,
            tz_name=theme.merchant.timezone,
            now=now,
            tiers=tiers,
        ).warning
        if str(slot.pk) == selected_slot and slot.seats_bookable:
            selected_warning = slot.refund_warning
        slot.theme = theme  # the pricing functions read it; already loaded
        slot.price_shown = _slot_price_shown(slot, theme)
        slot.unit_price = slot_unit_price(slot=slot)
        slot.flat_price = slot_flat_price(slot=slot)
    user = request.user
    can_review = user.is_authenticated and (
        has_reviewed(user=user, theme_id=theme.pk) or has_attended(user=user, theme_id=theme.pk)
    )
    return render(
        request,
        "portal/theme_detail.html",
        {
            "theme": theme,
            "merchant": theme.merchant,
            # A tiered policy in words (the single cutoff keeps its sentence in the template).
            "policy_summary": policy_summary(tiers) if theme.cancellation_policy else "",
            "schedule": _schedule_by_local_day(slots, theme),
            "slots_truncated": len(slots) == MAX_SLOTS_SHOWN,
            "schedule_days": SCHEDULE_DAYS,
            "reviews": list(review_list_for_theme(theme_id=theme.pk)[:REVIEWS_SHOWN]),
            "can_review": can_review,
            "form": form,
            "selected_slot": selected_slot,
            "selected_warning": selected_warning,
            "party_size": form.party_size_value(),
            "bookable": selectors.theme_is_bookable(theme=theme),
            "private": is_private(theme),
            "tiered": bool(theme.price_tiers),
            "ticket_fields": form.ticket_fields(),
            # For static/js/book.js's live total, formatted like bookwise.money.format_money.
            "money_prefix": money.format_money(0, theme.currency).split("0", 1)[0],
            "money_exponent": money.exponent(theme.currency),
        },
        status=status,
    )


def _slot_price_shown(slot: Slot, theme: Theme) -> int | None:
    """A slot's own (peak) price where it differs from what the theme's facts say; None otherwise.

    Flat private prices and per-person prices follow the slot's price; ticket
    tiers keep the theme's prices (bookings.pricing), so nothing differs there.
    """
    if slot.price is None:
        return None
    flat = slot_flat_price(slot=slot)
    if flat is not None:
        return flat if flat != theme.private_price else None
    if theme.price_tiers:
        return None
    return slot.price if slot.price != theme.price else None


def _schedule_by_local_day(slots: list[Slot], theme: Theme) -> list[ScheduleDay]:
    """Group slots (soonest first) by their day in the merchant's timezone."""
    tz = theme.merchant.tzinfo
    days: list[ScheduleDay] = []
    for slot in slots:
        local_day = slot.starts_at.astimezone(tz).date()
        if not days or days[-1].day != local_day:
            days.append(ScheduleDay(day=local_day))
        days[-1].slots.append(slot)
    return days
