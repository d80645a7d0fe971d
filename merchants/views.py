"""The merchant portal (/merchant/): thin pages over the same services as the API.

Each page parses a form, fetches its object from a queryset scoped to the
caller's own merchant profile (another merchant's object is a 404, for GET and
POST alike), calls one service and renders or redirects. A refused request
(DomainError) re-renders with the service's message; it is never a 500.
Platform admins are treated as merchants only through their own profile.
"""

from __future__ import annotations

import csv
import functools
import io
from datetime import date, datetime, timedelta

from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from bookings import merchant_stats
from bookings.catalog_selectors import slot_list_for_theme, with_seats_left
from bookings.merchant_selectors import (
    merchant_bookings,
    merchant_recent_bookings,
    merchant_week_slots,
    slot_cancel_impact,
    with_paid_and_held,
)
from bookings.models import SETTLED_HOLDING_STATUSES, BookingStatus
from bookings.selectors import slot_participants
from bookings.services import booking_mark_attendance, slot_update_capacity
from bookings.waitlist_selectors import waitlist_for_slot
from bookwise.csp import allow_stripe_onboarding_form
from bookwise.errors import DomainError
from bookwise.templatetags.portal import tickets_words
from bookwise.web import form_add_domain_error
from catalog import services as catalog_services
from catalog.models import BookingMode, SlotStatus
from catalog.selectors import merchant_slots, merchant_themes
from checkout.services import slot_cancel_and_refund
from merchants import charts
from merchants.feeds import merchant_feed_rotate, merchant_feed_token, merchant_feed_url
from merchants.forms import (
    AttendanceForm,
    CapacityForm,
    DashboardPeriodForm,
    MerchantApplyForm,
    MerchantSettingsForm,
    ScheduleForm,
    SlotForm,
    StatementPeriodForm,
    ThemeEditForm,
    ThemeForm,
)
from merchants.models import MerchantStatus
from merchants.permissions import user_approved_merchant, user_kept_bookings_merchant
from merchants.selectors import merchant_of
from merchants.services import merchant_apply, merchant_update_settings
from merchants.widget import widget_script_url, widget_snippet
from payments import connect, payout_selectors, revenue_selectors
from payments.models import ConnectedAccount, ConnectedAccountStatus

PAGE_SIZE = 50


def approved_merchant_required(view):
    """Signed-in users with an approved merchant profile (merchants.permissions, the API's rule too).

    A suspended merchant gets the "account suspended" page on every merchant
    URL, GET or POST, with a 403; anyone else goes to /merchant/ with a message.
    """

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        merchant = user_approved_merchant(request.user)
        if merchant is None:
            own = merchant_of(user=request.user)
            if own is not None and own.status == MerchantStatus.SUSPENDED:
                request.merchant = own
                return _render(request, "suspended.html", _suspended_context(own), status=403)
            messages.warning(request, "Only approved merchants can manage themes and slots.")
            return redirect("merchant:home")
        request.merchant = merchant
        return view(request, *args, **kwargs)

    return wrapper


def _suspended_context(merchant) -> dict:
    """The suspended page: the reason, and the slots whose kept bookings the owner still serves."""
    if not merchant.suspension_keeps_bookings:
        return {"kept_slots": []}
    kept = (
        merchant_slots(merchant=merchant)
        .filter(bookings__status__in=(BookingStatus.CONFIRMED, BookingStatus.ATTENDED, BookingStatus.NO_SHOW))
        .filter(ends_at__gt=timezone.now() - timedelta(days=7))
        .distinct()
        .order_by("starts_at", "id")[:100]
    )
    return {"kept_slots": list(kept)}


def serving_merchant_required(view):
    """Like `approved_merchant_required`, and also lets in a merchant suspended with its bookings kept.

    Only for the participants page and marking attendance (merchants.permissions.user_serves_kept_bookings).
    """
    guarded = approved_merchant_required(view)

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        merchant = user_kept_bookings_merchant(request.user)
        if merchant is None:
            return guarded(request, *args, **kwargs)
        request.merchant = merchant
        return view(request, *args, **kwargs)

    return wrapper


def _render(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    return render(request, f"merchant/{template}", {"merchant": request.merchant, **context}, status=status)


# --- Home: apply, waiting, suspended or the dashboard --------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    merchant = merchant_of(user=request.user)
    if merchant is None:
        return _apply(request)
    request.merchant = merchant
    if merchant.status == MerchantStatus.PENDING:
        return _render(request, "pending.html", {})
    if merchant.status != MerchantStatus.APPROVED:
        return _render(request, "suspended.html", _suspended_context(merchant))
    if request.method == "POST":
        return redirect("merchant:home")
    return _dashboard(request)


def _apply(request: HttpRequest) -> HttpResponse:
    form = MerchantApplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            merchant_apply(user=request.user, **form.cleaned_data)
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, "Thank you! Your application was sent; an admin will review it.")
            return redirect("merchant:home")
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "merchant/apply.html", {"form": form}, status=status)


def _prepare_week_slot(slot, *, now: datetime) -> None:
    """Seats, fill and check-in state of a slot from `merchant_week_slots`, for the dashboard and the week page.

    Sets `seats_left` too, so `{% minimum_players_status %}` reads it without a query.
    """
    slot.started = slot.starts_at <= now
    taken = slot.seats_paid + slot.seats_held
    if taken and slot.theme.booking_mode == BookingMode.PRIVATE:
        taken = max(taken, slot.capacity)  # a private slot with a booking is full
    slot.seats_taken = taken
    slot.seats_left = max(slot.capacity - taken, 0)
    slot.fill_percent = min(100, round(100 * taken / slot.capacity)) if slot.capacity else 100
    for booking in slot.week_bookings:
        booking.markable = booking.status in SETTLED_HOLDING_STATUSES


def _days_of_slots(merchant, *, first: date, today: date, now: datetime) -> list[dict]:
    """Seven days from `first` (merchant's timezone), each with its slots and who is coming (three queries)."""
    tz = merchant.tzinfo
    days: dict[date, list] = {first + timedelta(days=i): [] for i in range(7)}
    for slot in merchant_week_slots(merchant=merchant, week_start=first, now=now):
        _prepare_week_slot(slot, now=now)
        days[timezone.localtime(slot.starts_at, tz).date()].append(slot)
    return [{"day": day, "slots": slots, "is_today": day == today} for day, slots in days.items()]


def _percent(ratio: float | None) -> int | None:
    return None if ratio is None else round(100 * ratio)


def _dashboard_kpis(merchant, *, period: merchant_stats.StatsPeriod, now: datetime) -> dict:
    """The period's figures in total and per theme, and the charts drawn from them (five queries in all)."""
    stats = merchant_stats.merchant_booking_stats(merchant=merchant, period=period, now=now)
    revenue = revenue_selectors.merchant_revenue(
        merchant=merchant, start=period.start, end=period.end, buckets=period.buckets(), weekly=period.weekly
    )
    titles = {theme.theme_id: theme.title for theme in stats.themes} | revenue.theme_titles
    figures = {theme.theme_id: theme.figures for theme in stats.themes}
    themes = sorted(titles, key=lambda pk: (titles[pk].casefold(), pk))
    theme_rows = [
        {
            "title": titles[pk],
            "figures": figures.get(pk, merchant_stats.BookingFigures()),
            "fill_percent": _percent(figures.get(pk, merchant_stats.BookingFigures()).fill_rate),
            "no_show_percent": _percent(figures.get(pk, merchant_stats.BookingFigures()).no_show_rate),
            "revenue": revenue.by_theme.get(pk, []),
        }
        for pk in themes
    ]
    filled = [theme for theme in stats.themes if theme.figures.capacity]
    return {
        "total": stats.total,
        "fill_percent": _percent(stats.total.fill_rate),
        "no_show_percent": _percent(stats.total.no_show_rate),
        "revenue": revenue.totals,
        "theme_rows": theme_rows,
        "revenue_charts": [
            {"currency": series.currency, **charts.column_chart([(b.start, b.net) for b in series.buckets])}
            for series in revenue.series
        ],
        "fill_chart": charts.percent_bars([(t.title, t.figures.fill_rate) for t in filled]) if filled else None,
        "fill_rows": [
            {"title": t.title, "percent": _percent(t.figures.fill_rate), "figures": t.figures} for t in filled
        ],
    }


def _dashboard(request: HttpRequest) -> HttpResponse:
    """Today's schedule with check-in, the next seven days, and the figures of a period with charts and CSV."""
    merchant = request.merchant
    now = timezone.now()
    today = timezone.localtime(now, merchant.tzinfo).date()
    days = _days_of_slots(merchant, first=today, today=today, now=now)
    form = DashboardPeriodForm(request.GET, merchant=merchant, now=now)
    period = form.period_or_default()
    query = f"from={period.date_from.isoformat()}&to={period.date_to.isoformat()}"
    presets = [
        {
            "days": n,
            "url": f"{reverse('merchant:home')}?days={n}#figures-heading",
            "current": period.days == n and period.date_to == today,
        }
        for n in merchant_stats.PERIOD_PRESETS
    ]
    context = {
        "today": today,
        "today_slots": days[0]["slots"],
        "week_days": days,
        "here": request.get_full_path(),
        "form": form,
        "period": period,
        "presets": presets,
        "csv_url": f"{reverse('merchant:bookings-csv')}?{query}",
        "kpis": _dashboard_kpis(merchant, period=period, now=now),
        "recent_bookings": list(merchant_recent_bookings(merchant=merchant)),
    }
    return _render(request, "dashboard.html", context, status=_form_status(form))


@approved_merchant_required
@require_safe
def bookings_csv(request: HttpRequest) -> HttpResponse:
    """Every booking whose slot starts in `?from=&to=` (or `?days=`) as CSV (bookings.merchant_stats columns).

    Built whole, in chunks of rows (a period is at most a year): a database
    failure is then the usual 503 page, never a download cut short.
    """
    merchant = request.merchant
    form = DashboardPeriodForm(request.GET, merchant=merchant)
    if not form.is_valid() or form.period is None:
        return redirect(f"{reverse('merchant:home')}?{request.GET.urlencode()}#figures-heading")
    period = form.period
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in merchant_stats.iter_export_rows(merchant=merchant, period=period, tickets_words=tickets_words):
        writer.writerow(row)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    filename = f"bookings-{merchant.pk}-{period.date_from.isoformat()}-{period.date_to.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- Themes ----------------------------------------------------------------------------------


@approved_merchant_required
def theme_list(request: HttpRequest) -> HttpResponse:
    themes = merchant_themes(merchant=request.merchant).order_by("-is_active", "title", "id")
    page = Paginator(themes, PAGE_SIZE).get_page(request.GET.get("page"))
    return _render(request, "theme_list.html", {"page": page})


@approved_merchant_required
@require_http_methods(["GET", "POST"])
def theme_create(request: HttpRequest) -> HttpResponse:
    form = ThemeForm(request.POST or None, merchant=request.merchant)
    if request.method == "POST" and form.is_valid():
        try:
            theme = catalog_services.theme_create(merchant=request.merchant, **form.service_kwargs())
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, f"Theme “{theme.title}” created. Now open some slots for it.")
            return redirect("merchant:slot-list", pk=theme.pk)
    return _render(request, "theme_form.html", {"form": form}, status=_form_status(form))


@approved_merchant_required
@require_http_methods(["GET", "POST"])
def theme_edit(request: HttpRequest, pk: int) -> HttpResponse:
    theme = get_object_or_404(merchant_themes(merchant=request.merchant), pk=pk)
    form = ThemeEditForm(request.POST or None, initial=ThemeForm.initial_from(theme), merchant=request.merchant)
    if request.method == "POST" and form.is_valid():
        try:
            catalog_services.theme_update(theme=theme, **form.service_kwargs())
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, f"Theme “{theme.title}” saved.")
            return redirect("merchant:theme-list")
    return _render(request, "theme_form.html", {"form": form, "theme": theme}, status=_form_status(form))


@approved_merchant_required
@require_http_methods(["GET", "POST"])
def theme_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    theme = get_object_or_404(merchant_themes(merchant=request.merchant), pk=pk)
    if request.method == "POST":
        catalog_services.theme_deactivate(theme=theme)
        messages.success(request, f"Theme “{theme.title}” is no longer listed.")
        return redirect("merchant:theme-list")
    return _render(request, "theme_deactivate.html", {"theme": theme})


def _form_status(form) -> int:
    return 400 if form.is_bound and form.errors else 200


# --- Slots of a theme -------------------------------------------------------------------


def _slot_list_response(request: HttpRequest, theme, form: SlotForm, *, status: int = 200) -> HttpResponse:
    show_past = request.GET.get("show") == "past"
    now = timezone.now()
    if show_past:
        slots = with_seats_left(
            merchant_slots(merchant=request.merchant).filter(theme=theme, starts_at__lte=now), now=now
        ).order_by("-starts_at", "-id")
    else:
        slots = slot_list_for_theme(theme_id=theme.pk, now=now)
    page = Paginator(with_paid_and_held(slots, now=now), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"theme": theme, "page": page, "form": form, "show_past": show_past, "now": now}
    return _render(request, "slot_list.html", context, status=status)


@approved_merchant_required
def slot_list(request: HttpRequest, pk: int) -> HttpResponse:
    theme = get_object_or_404(merchant_themes(merchant=request.merchant), pk=pk)
    return _slot_list_response(request, theme, SlotForm(merchant=request.merchant, theme=theme))


@approved_merchant_required
@require_POST
def slot_add(request: HttpRequest, pk: int) -> HttpResponse:
    theme = get_object_or_404(merchant_themes(merchant=request.merchant), pk=pk)
    form = SlotForm(request.POST, merchant=request.merchant, theme=theme)
    if form.is_valid():
        try:
            catalog_services.slot_create(
                theme=theme,
                starts_at=form.cleaned_data["starts_at"],
                capacity=form.cleaned_data["capacity"],
                price=form.cleaned_data["price_minor"],
            )
        except DomainError as exc:
            form_add_domain_error(form, exc, field_map={"starts_at": "date", "ends_at": "time"})
        else:
            local = timezone.localtime(form.cleaned_data["starts_at"], request.merchant.tzinfo)
            messages.success(request, f"Slot added on {local:%A %d %B %Y at %H:%M}.")
            return redirect("merchant:slot-list", pk=theme.pk)
    return _slot_list_response(request, theme, form, status=400)


@approved_merchant_required
@require_http_methods(["GET", "POST"])
def slot_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    """Weekly schedule: POST action=preview shows slot_schedule_plan; action=create runs slot_bulk_create."""
    theme = get_object_or_404(merchant_themes(merchant=request.merchant).select_related("merchant"), pk=pk)
    action = request.POST.get("action", "preview")
    form = ScheduleForm(request.POST or None, merchant=request.merchant, theme=theme)
    plan = None
    if request.method == "POST" and form.is_valid():
        try:
            if action == "create":
                created, skipped = catalog_services.slot_bulk_create(
                    theme=theme,
                    capacity=form.cleaned_data["capacity"],
                    price=form.cleaned_data["price_minor"],
                    **form.plan_kwargs(),
                )
            else:
                plan = catalog_services.slot_schedule_plan(theme=theme, **form.plan_kwargs())
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            if action == "create":
                messages.success(request, f"Created {created} slots; skipped {skipped}.")
                return redirect("merchant:slot-list", pk=theme.pk)
    # The confirm button posts exactly what was previewed, as hidden inputs (no ids: no clash with the form).
    confirm_form = ScheduleForm(request.POST, merchant=request.merchant, theme=theme, auto_id=False) if plan else None
    return _render(
        request,
        "slot_schedule.html",
        {
            "theme": theme,
            "form": form,
            "plan": plan,
            "confirm_form": confirm_form,
            "plan_price": form.cleaned_data.get("price_minor") if plan else None,
        },
        status=_form_status(form),
    )


# --- One slot --------------------------------------------------------------------------


def _owned_slot(request: HttpRequest, pk: int):
    return get_object_or_404(with_seats_left(merchant_slots(merchant=request.merchant)), pk=pk)


@approved_merchant_required
@require_http_methods(["GET", "POST"])
def slot_capacity(request: HttpRequest, pk: int) -> HttpResponse:
    slot = _owned_slot(request, pk)
    form = CapacityForm(request.POST or None, initial={"capacity": slot.capacity})
    if request.method == "POST" and form.is_valid():
        try:
            slot_update_capacity(slot=slot, capacity=form.cleaned_data["capacity"])
        except DomainError as exc:
            if exc.code == "capacity_below_booked":
                form.add_error("capacity", exc.message)
            else:
                form_add_domain_error(form, exc)
        else:
            messages.success(request, f"Capacity changed to {form.cleaned_data['capacity']}.")
            return redirect("merchant:slot-list", pk=slot.theme_id)
    context = {"slot": slot, "theme": slot.theme, "form": form, "seats_taken": slot.capacity - slot.seats_left}
    return _render(request, "slot_capacity.html", context, status=_form_status(form))


@approved_merchant_required
@require_http_methods(["GET", "POST"])
def slot_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    slot = _owned_slot(request, pk)
    status = 200
    if request.method == "POST":
        try:
            _, cancelled = slot_cancel_and_refund(slot=slot, by=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
            status = 409
        else:
            messages.success(request, f"Slot cancelled. {cancelled} bookings were cancelled.")
            return redirect("merchant:slot-list", pk=slot.theme_id)
    impact = slot_cancel_impact(slot=slot)
    return _render(request, "slot_cancel.html", {"slot": slot, "theme": slot.theme, "impact": impact}, status=status)


WAITLIST_SHOWN = 200  # a slot's waitlist entries listed under its participants


@serving_merchant_required
def slot_participants_page(request: HttpRequest, pk: int) -> HttpResponse:
    slot = _owned_slot(request, pk)
    now = timezone.now()
    bookings = list(slot_participants(slot_id=slot.pk, now=now))
    markable = (BookingStatus.CONFIRMED, BookingStatus.ATTENDED, BookingStatus.NO_SHOW)
    for booking in bookings:
        booking.markable = booking.status in markable
    context = {
        "slot": slot,
        "theme": slot.theme,
        "bookings": bookings,
        "people": sum(b.party_size for b in bookings),
        "started": slot.starts_at <= now,
        "cancelled": slot.status == SlotStatus.CANCELLED,
        "waitlist": list(waitlist_for_slot(slot_id=slot.pk)[:WAITLIST_SHOWN]),
    }
    return _render(request, "slot_participants.html", context)


@serving_merchant_required
@require_POST
def booking_attendance(request: HttpRequest, pk: int) -> HttpResponse:
    booking = get_object_or_404(merchant_bookings(merchant=request.merchant), pk=pk)
    form = AttendanceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose attended or no-show.")
    else:
        try:
            booking_mark_attendance(booking_id=booking.pk, status=form.cleaned_data["status"], by=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            label = "attended" if form.cleaned_data["status"] == BookingStatus.ATTENDED else "a no-show"
            name = booking.customer.full_name or booking.customer.email
            messages.success(request, f"{name} marked {label}.")
    back = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})
    if not (safe and back.startswith("/merchant/")):
        back = reverse("merchant:slot-participants", kwargs={"pk": booking.slot_id})
    return redirect(back.split("#", 1)[0] + f"#booking-{booking.pk}")


# --- This week: every slot with who is coming, day by day ----------------------------------

WEEK_MAX_OFFSET_DAYS = 3660  # how far from today ?start= may move (ten years), so dates stay far from overflow


def _week_start(request: HttpRequest, today: date) -> date | None:
    """The Monday of the week `?start=YYYY-MM-DD` falls in (this week without it); None when it is not a date."""
    raw = request.GET.get("start", "")
    try:
        day = date.fromisoformat(raw) if raw else today
    except ValueError:
        return None
    if abs((day - today).days) > WEEK_MAX_OFFSET_DAYS:
        return None
    return day - timedelta(days=day.weekday())


@approved_merchant_required
@require_safe
def week(request: HttpRequest) -> HttpResponse:
    """Seven days of slots in the merchant's timezone, each with who is coming and a check-in once started."""
    merchant = request.merchant
    tz = merchant.tzinfo
    now = timezone.now()
    today = timezone.localtime(now, tz).date()
    start = _week_start(request, today)
    if start is None:
        messages.error(request, "Choose a week with a date like 2026-03-02.")
        return _render(request, "week.html", {"days": [], "week_start": None}, status=400)
    context = {
        "days": _days_of_slots(merchant, first=start, today=today, now=now),
        "week_start": start,
        "week_end": start + timedelta(days=6),
        "previous_week": start - timedelta(days=7),
        "next_week": start + timedelta(days=7),
        "is_this_week": start <= today < start + timedelta(days=7),
        "here": request.get_full_path(),
    }
    return _render(request, "week.html", context)


# --- Settings: the owner's profile and how they hear about bookings -------------------------


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    """Pending and approved merchants edit their profile; a suspended one sees the suspended page."""
    merchant = merchant_of(user=request.user)
    if merchant is None:
        return redirect("merchant:home")
    request.merchant = merchant
    if merchant.status == MerchantStatus.SUSPENDED:
        return _render(request, "suspended.html", {}, status=403)
    form = MerchantSettingsForm(request.POST or None, merchant=merchant)
    if request.method == "POST" and form.is_valid():
        try:
            merchant_update_settings(merchant=merchant, **form.changes())
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("merchant:settings")
    script_url = widget_script_url(site_url=django_settings.SITE_URL, static_url=django_settings.STATIC_URL)
    widgets = [
        {"theme": theme, "snippet": widget_snippet(theme_id=theme.pk, script_url=script_url)}
        for theme in merchant_themes(merchant=merchant).order_by("title", "pk")
    ]
    context = {"form": form, "widgets": widgets, "widget_origins": merchant.widget_origins}
    context.update(_calendar_feed_context(merchant))
    return _render(request, "settings.html", context, status=_form_status(form))


def _calendar_feed_context(merchant) -> dict:
    """The settings page's calendar feed: its URL once created (merchants.feeds); approved merchants only."""
    token = merchant.calendar_feed_token
    return {
        "calendar_feed_available": merchant.status == MerchantStatus.APPROVED,
        "calendar_feed_url": merchant_feed_url(token) if token else "",
    }


@approved_merchant_required
@require_POST
def calendar_feed_rotate(request: HttpRequest) -> HttpResponse:
    """Create the secret calendar feed link, or replace it: the old link answers 404 from now on."""
    if request.merchant.calendar_feed_token:
        merchant_feed_rotate(merchant=request.merchant)
        messages.success(request, "A new calendar link was created: the old link no longer works.")
    else:
        merchant_feed_token(merchant=request.merchant)
        messages.success(request, "Your calendar link is ready: add it to your calendar app.")
    return redirect(reverse("merchant:settings") + "#calendar-feed")


# --- Payouts: the Stripe account, balances, the statement and net earnings per week ---------


def _statement_form(request: HttpRequest) -> StatementPeriodForm:
    data = {"date_from": request.GET.get("from", ""), "date_to": request.GET.get("to", "")}
    return StatementPeriodForm(data, merchant=request.merchant)


CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_AXIS = 640, 220, 12, 28


def _week_chart(series: payout_selectors.WeeklySeries) -> dict:
    """Bars of one currency's weekly net, as SVG coordinates (viewBox units): drawn by the template, no script."""
    nets = [week.net for week in series.weeks]
    top, bottom = max(0, *nets), min(0, *nets)
    span = (top - bottom) or 1
    plot = CHART_HEIGHT - CHART_TOP - CHART_AXIS
    zero_y = CHART_TOP + plot * top / span
    slot = CHART_WIDTH / len(nets)
    bars = []
    for index, week in enumerate(series.weeks):
        height = plot * abs(week.net) / span
        bars.append(
            {
                "x": round(index * slot + slot * 0.15, 1),
                "y": round(zero_y - height if week.net >= 0 else zero_y, 1),
                "width": round(slot * 0.7, 1),
                "height": round(max(height, 0.0), 1),
                "label_x": round(index * slot + slot / 2, 1),
                "week_start": week.week_start,
                "net": week.net,
                "negative": week.net < 0,
            }
        )
    return {
        "currency": series.currency,
        "bars": bars,
        "zero_y": round(zero_y, 1),
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "label_y": CHART_HEIGHT - 8,
        "top": top,
        "bottom": bottom,
    }


@approved_merchant_required
@require_safe
@allow_stripe_onboarding_form
def payouts(request: HttpRequest) -> HttpResponse:
    """The Stripe account in words, balances per currency, the statement of a period and the weekly chart."""
    merchant = request.merchant
    account = ConnectedAccount.objects.filter(merchant=merchant).first()
    status = connect.payouts_status(account)
    form = _statement_form(request)
    lines: list = []
    period = None
    if form.is_valid():
        period = (form.cleaned_data["date_from"], form.cleaned_data["date_to"])
        lines = payout_selectors.statement_lines(merchant=merchant, date_from=period[0], date_to=period[1])
    context = {
        "account": account,
        "payouts_status": status,
        "status_words": connect.STATUS_WORDS[status],
        "requirements": connect.requirement_words(account.requirements_due) if account else [],
        "fee_percent": merchant.effective_fee_bps / 100,
        "payout_delay_hours": django_settings.PAYOUT_DELAY_HOURS,
        "balances": payout_selectors.payout_balances(merchant=merchant),
        "form": form,
        "period": period,
        "lines": lines,
        "charts": [_week_chart(series) for series in payout_selectors.weekly_net(merchant=merchant)],
    }
    return _render(request, "payouts.html", context, status=200 if form.is_valid() else 400)


def _to_stripe(request: HttpRequest) -> HttpResponse:
    """Redirect the browser to a new Stripe Account Link, or back to the payouts page with why not."""
    try:
        url = connect.payouts_onboarding_link(merchant=request.merchant)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("merchant:payouts")
    return redirect(url)


@approved_merchant_required
@require_POST
def payouts_onboarding(request: HttpRequest) -> HttpResponse:
    """The "Set up payouts" button: create the Stripe account once, then go to Stripe's onboarding."""
    return _to_stripe(request)


@approved_merchant_required
@require_safe
def payouts_refresh(request: HttpRequest) -> HttpResponse:
    """Stripe sends the merchant here when a link expired or was used: start a fresh one."""
    return _to_stripe(request)


@approved_merchant_required
@require_safe
def payouts_return(request: HttpRequest) -> HttpResponse:
    """Stripe sends the merchant here after onboarding: re-read the account so the result shows at once."""
    try:
        account = connect.connected_account_refresh(merchant=request.merchant)
    except DomainError as exc:
        messages.warning(request, exc.message)
        return redirect("merchant:payouts")
    status = connect.payouts_status(account)
    if status == ConnectedAccountStatus.ENABLED:
        messages.success(request, "Your Stripe account is ready: payouts are on.")
    elif status == ConnectedAccountStatus.RESTRICTED:
        messages.warning(request, "Stripe needs more information before it can send your payouts.")
    else:
        messages.info(request, connect.STATUS_WORDS[status])
    return redirect("merchant:payouts")


@approved_merchant_required
@require_safe
def payouts_statement_csv(request: HttpRequest) -> HttpResponse:
    """The statement of `?from=&to=` as CSV: the same columns and values as the API's `?format=csv`."""
    merchant = request.merchant
    form = _statement_form(request)
    if not form.is_valid():
        messages.error(request, " ".join(form.non_field_errors()) or "Choose dates like 2026-03-02.")
        return redirect("merchant:payouts")
    date_from, date_to = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    lines = payout_selectors.statement_lines(merchant=merchant, date_from=date_from, date_to=date_to)
    body = payout_selectors.statement_csv([payout_selectors.statement_row(line, merchant=merchant) for line in lines])
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    filename = f"statement-{merchant.pk}-{date_from.isoformat()}-{date_to.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
