"""Customer catalog pages: the searchable theme list, a theme's page, booking a slot from it.

Thin: parse the form, scope with a selector, call one service, render.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from django.conf import settings
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
from bookings.waitlist_selectors import waitlist_positions_for_slots
from bookwise import money
from bookwise.errors import DomainError
from bookwise.response_cache import cache_anonymous_page
from catalog import month_calendar, photos, selectors
from catalog.forms import BookSlotForm, CatalogFilterForm
from catalog.models import Slot, SlotStatus, Theme
from reviews.selectors import review_list_for_theme
from reviews.services import has_attended, has_reviewed

PAGE_SIZE = 12
MAX_PAGE = 10_000
# A month of times is read in one query; a room open round the clock every 15 minutes fits.
MAX_SLOTS_SHOWN = 3000
REVIEWS_SHOWN = 20


@require_safe
@cache_anonymous_page  # a few seconds (CATALOG_CACHE_SECONDS); joins re-check seats under the slot lock
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
        # Each card's next open time comes from one correlated subquery (no query per card).
        matching = catalog_selectors.theme_list_filtered(filters=filters).defer("search_vector")
        # Each card's first photo: one more query for the whole page (catalog.photos).
        rows = list(
            catalog_selectors.with_next_open_at(matching).prefetch_related(photos.first_photo_prefetch())[
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
class PickedDay:
    """The theme page's calendar month and the day whose times are shown (merchant-local dates)."""

    month: date
    day: date | None


# Not cached (bookwise/response_cache.py): the book form embeds a per-visitor CSRF token.
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
    if form.is_valid() and request.POST.get("apply_code"):
        form.apply_promo_code()  # "Apply": the total with the code, on the same form; nothing is booked
    elif form.is_valid():
        try:
            booking = booking_join(slot_id=form.cleaned_data["slot"], customer=request.user, **form.join_kwargs())
        except DomainError as exc:
            form.add_join_error(exc)
        else:
            if booking.status == BookingStatus.CONFIRMED:
                why = "your code covers it" if booking.discount else "it is free"
                messages.success(request, f"You are booked on {theme.title}: {why}, nothing to pay.")
                return redirect("portal:my-bookings")
            return redirect("portal:checkout", pk=booking.pk)
    return _render_theme(request, theme, form)


def _render_theme(request: HttpRequest, theme: Theme, form: BookSlotForm, *, status: int = 200) -> HttpResponse:
    now = timezone.now()
    tz = theme.merchant.tzinfo
    today = month_calendar.local_day(now, tz)
    selected_slot = str(form["slot"].value() or "")
    picked = _picked_day(request, theme, selected_slot=selected_slot, today=today, now=now)
    month_from, month_to = month_calendar.local_month_bounds(picked.month, tz)
    # One query: the month's open times with their seats left (counted from bookings).
    slots = list(
        catalog_selectors.slot_list_for_theme(theme_id=theme.pk, start=month_from, end=month_to, now=now).filter(
            status=SlotStatus.OPEN
        )[:MAX_SLOTS_SHOWN]
    )
    for slot in slots:
        # Fewer seats than the smallest party cannot be sold: shown as full (seats_left stays true in the API).
        slot.seats_bookable = selectors.bookable_seats(seats_left=slot.seats_left, min_party=theme.min_party)
    if picked.day is None or picked.day.month != picked.month.month:
        # No day asked for (or one outside the month): the month's first day with open times, else with any.
        probe = month_calendar.build_month(first=picked.month, slots=slots, tz=tz, today=today, selected=None)
        picked.day = probe.first_day("open") or probe.first_day("full")
    month = month_calendar.build_month(first=picked.month, slots=slots, tz=tz, today=today, selected=picked.day)
    day_slots = [slot for slot in slots if month_calendar.local_day(slot.starts_at, tz) == picked.day]
    selected_warning = ""
    tiers = effective_policy(theme)
    for slot in day_slots:
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
            "photos": list(photos.theme_photos(theme_id=theme.pk)),
            # A tiered policy in words (the single cutoff keeps its sentence in the template).
            "policy_summary": policy_summary(tiers) if theme.cancellation_policy else "",
            "calendar": month,
            "weekdays": month_calendar.WEEKDAYS,
            "chosen_day": picked.day,
            "day_slots": day_slots,
            "slots_truncated": len(slots) == MAX_SLOTS_SHOWN,
            "reviews": list(review_list_for_theme(theme_id=theme.pk)[:REVIEWS_SHOWN]),
            # "Join the waitlist" on the chosen day's full times (bookings.waitlist).
            "full_slots": [slot for slot in day_slots if not slot.seats_bookable],
            "waiting_slot_ids": waitlist_positions_for_slots(customer=user, slot_ids=[s.pk for s in day_slots]),
            "waitlist_offer_minutes": settings.WAITLIST_OFFER_MINUTES,
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


def _picked_day(request: HttpRequest, theme: Theme, *, selected_slot: str, today: date, now: datetime) -> PickedDay:
    """The month and day the page shows (merchant-local), from `?day=&month=` (kept by the book form too).

    Without a day: the day of the time chosen in a re-rendered form, else the
    day of the theme's next open time. A month before the current one or too
    far ahead, or anything unreadable, falls back to that default: never an error.
    """
    params = request.POST if request.method == "POST" else request.GET
    tz = theme.merchant.tzinfo
    day = month_calendar.parse_day(params.get("day"))
    month = month_calendar.parse_month(params.get("month"))
    if day is not None and not month_calendar.month_in_range(month_calendar.month_start(day), today=today):
        day = None
    if month is not None and not month_calendar.month_in_range(month, today=today):
        month = None
    if day is not None:
        return PickedDay(month=month_calendar.month_start(day), day=day)
    if month is not None:
        return PickedDay(month=month, day=None)
    if selected_slot.isdigit() and len(selected_slot) < 19:
        starts = (
            catalog_selectors.slot_visible_to(user=request.user)
            .filter(theme=theme, pk=int(selected_slot))
            .values_list("starts_at", flat=True)
            .first()
        )
        if starts is not None and starts > now:
            chosen = month_calendar.local_day(starts, tz)
            if month_calendar.month_in_range(month_calendar.month_start(chosen), today=today):
                return PickedDay(month=month_calendar.month_start(chosen), day=chosen)
    # The next day with open times; with none left, the next day with full ones (a waitlist may be open).
    next_open = catalog_selectors.theme_next_open_at(theme=theme, now=now) or catalog_selectors.theme_next_open_at(
        theme=theme, now=now, with_seats=False
    )
    if next_open is not None:
        chosen = month_calendar.local_day(next_open, tz)
        if month_calendar.month_in_range(month_calendar.month_start(chosen), today=today):
            return PickedDay(month=month_calendar.month_start(chosen), day=chosen)
    return PickedDay(month=month_calendar.month_start(today), day=None)
