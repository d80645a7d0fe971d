"""Customer pages of bookings: my bookings, checkout (pay by card), its status poll, cancel, change time.

Every page looks the booking up among the caller's own (`booking_list_for`):
anyone else's booking is a 404. Rules come from the services: cancellation
terms from `booking_cancel_terms`, the PaymentIntent from
`payments.services.payment_intent_for_booking`, the card payment from
`payments.services.payment_confirm_card`.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.feeds import user_feed_url
from bookings import selectors, services
from bookings.catalog_selectors import slot_list_for_theme
from bookings.models import Booking, BookingStatus
from bookings.policy import booking_cancellation_policy
from bookings.pricing import booking_price
from bookings.throttles import join_attempt_wait
from bookings.waitlist import waitlist_join, waitlist_leave
from bookings.waitlist_selectors import waitlist_active_upcoming_for
from bookwise.errors import DomainError
from bookwise.money import format_money
from catalog.models import Slot, SlotStatus
from checkout import services as checkout_services
from payments.selectors import payment_state_for_booking, refund_status_by_booking
from payments.services import payment_confirm_card, payment_intent_for_booking
from payments.throttles import pay_attempt_wait
from reviews.selectors import review_editable_by

BOOKINGS_SHOWN = 50


def _own_bookings(request: HttpRequest) -> QuerySet[Booking]:
    return selectors.booking_list_for(user=request.user).select_related("slot__theme__merchant")


@dataclass(frozen=True)
class BookingRow:
    booking: Booking
    status: str  # effective: an unpaid hold past its time shows as expired
    status_label: str
    can_pay: bool
    cancel: services.CancelTerms
    review: str  # "write", "edit" or ""
    refund: str  # the refund's RefundStatus ("pending", "succeeded", "failed"), or "" when there is none
    can_reschedule: bool = False  # "Change time": its customer, still inside the full-refund window


def _row(booking: Booking, *, user, now: datetime, reviewed_theme_ids: set[int], refunds: dict[int, str]) -> BookingRow:
    status = selectors.booking_effective_status(booking, now=now)
    review = ""
    if status == BookingStatus.ATTENDED:
        review = "edit" if booking.slot.theme_id in reviewed_theme_ids else "write"
    return BookingRow(
        booking=booking,
        status=status,
        status_label=BookingStatus(status).label,
        can_pay=status == BookingStatus.PENDING_PAYMENT and booking.amount > 0,
        cancel=services.booking_cancel_terms(booking=booking, by=user, now=now),
        review=review,
        refund=refunds.get(booking.pk, ""),
        can_reschedule=not services.booking_reschedule_refusal(booking=booking, by=user, now=now),
    )


@login_required
@require_safe
def my_bookings(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    bookings = _own_bookings(request)
    # Cancelled and expired bookings leave "Upcoming" at once, whatever their slot's date.
    is_upcoming = selectors.booking_upcoming_q(now)
    upcoming = list(bookings.filter(is_upcoming).order_by("slot__starts_at", "id")[: BOOKINGS_SHOWN + 1])
    past = list(bookings.exclude(is_upcoming).order_by("-slot__starts_at", "-id")[: BOOKINGS_SHOWN + 1])
    attended_theme_ids = {b.slot.theme_id for b in past if b.status == BookingStatus.ATTENDED}
    reviewed = set()
    if attended_theme_ids:
        reviewed = set(
            review_editable_by(user=request.user)
            .filter(author=request.user, theme_id__in=attended_theme_ids)
            .values_list("theme_id", flat=True)
        )
    refunds = refund_status_by_booking(booking_ids=[b.pk for b in upcoming[:BOOKINGS_SHOWN] + past[:BOOKINGS_SHOWN]])

    def row(booking: Booking) -> BookingRow:
        return _row(booking, user=request.user, now=now, reviewed_theme_ids=reviewed, refunds=refunds)

    return render(
        request,
        "portal/my_bookings.html",
        {
            "upcoming": [row(b) for b in upcoming[:BOOKINGS_SHOWN]],
            "past": [row(b) for b in past[:BOOKINGS_SHOWN]],
            "more_upcoming": len(upcoming) > BOOKINGS_SHOWN,
            "more_past": len(past) > BOOKINGS_SHOWN,
            # The personal calendar feed of confirmed bookings (bookings/feed_views.py), once created.
            "calendar_feed_url": user_feed_url(request.user.calendar_feed_token)
            if request.user.calendar_feed_token
            else "",
            "waitlist": list(waitlist_active_upcoming_for(customer=request.user, now=now)[:BOOKINGS_SHOWN]),
        },
    )


@never_cache
@login_required
@require_safe
def checkout(request: HttpRequest, pk: int) -> HttpResponse:
    """Pay a pending booking by card with Stripe.js; the webhook confirms it, the page polls for that."""
    booking = get_object_or_404(_own_bookings(request), pk=pk)
    status = selectors.booking_effective_status(booking)
    if status != BookingStatus.PENDING_PAYMENT or booking.amount == 0:
        messages.info(request, _nothing_to_pay_message(booking, status))
        return redirect("portal:my-bookings")
    now = timezone.now()
    context = {
        "booking": booking,
        "slot": booking.slot,
        "theme": booking.slot.theme,
        "merchant": booking.slot.theme.merchant,
        "seconds_left": max(int((min(booking.expires_at, booking.slot.starts_at) - now).total_seconds()), 0),
        # The hold is cut short at the slot's start (bookings.services.hold_expiry): say which limit it is.
        "hold_ends_at_start": booking.expires_at >= booking.slot.starts_at,
        "policy": booking_cancellation_policy(booking, now=now),
    }
    try:
        intent = payment_intent_for_booking(booking_id=booking.pk, customer=request.user)
    except DomainError as exc:
        if exc.http_status < 500:
            # not_payable: the hold ran out or changed while the page loaded.
            messages.error(request, exc.message)
            return redirect("portal:my-bookings")
        # The payment provider is unreachable: say so, let the customer retry.
        return render(request, "portal/checkout.html", {**context, "error": exc.message}, status=exc.http_status)
    return render(
        request,
        "portal/checkout.html",
        {
            **context,
            "client_secret": intent.payment.client_secret,
            "stripe_js_url": settings.STRIPE_JS_URL,
            "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        },
    )


def _nothing_to_pay_message(booking: Booking, status: str) -> str:
    if status in (BookingStatus.CONFIRMED, BookingStatus.ATTENDED, BookingStatus.NO_SHOW):
        return f"Booking #{booking.pk} is already paid and confirmed."
    if status == BookingStatus.EXPIRED:
        return f"The hold of booking #{booking.pk} ran out: book the slot again to pay."
    return f"Booking #{booking.pk} is {BookingStatus(status).label.lower()}: there is nothing to pay."


@never_cache
@login_required
@require_safe
def booking_status(request: HttpRequest, pk: int) -> JsonResponse:
    """What the checkout page polls while the webhook confirms the payment.

    `payment` and `refund` are the payment's and its refund's statuses ("" for
    none): a paid hold that shows as expired may still be confirmed by its late
    payment, so the page waits for one of those to settle the outcome.
    """
    booking = get_object_or_404(_own_bookings(request), pk=pk)
    payment, refund = payment_state_for_booking(booking_id=booking.pk)
    return JsonResponse(
        {"id": booking.pk, "status": selectors.booking_effective_status(booking), "payment": payment, "refund": refund}
    )


@never_cache
@login_required
@require_POST
def booking_pay(request: HttpRequest, pk: int) -> JsonResponse:
    """The checkout page's card payment (JSON): a Stripe.js card token in, the PaymentIntent's state out.

    POST `token=tok_...` (CSRF-protected, session). Answers 200
    `{status, client_secret, requires_action}`; a refusal answers
    `{detail, code}` with the service's status: 400 invalid_token, 402
    card_declined, 409 not_payable or too_many_attempts, 429 throttled (per
    user and per IP, the API's THROTTLE_PAY buckets), 502/503 when Stripe fails.
    """
    wait = pay_attempt_wait(request)
    if wait:
        response = JsonResponse(
            {"detail": f"Too many payment attempts. Try again in {wait} seconds.", "code": "throttled"}, status=429
        )
        response["Retry-After"] = str(wait)
        return response
    booking = get_object_or_404(_own_bookings(request), pk=pk)
    try:
        state = payment_confirm_card(
            booking_id=booking.pk, customer=request.user, token_id=request.POST.get("token", "")
        )
    except DomainError as exc:
        return JsonResponse({"detail": exc.message, "code": exc.code}, status=exc.http_status)
    return JsonResponse(
        {"status": state.status, "client_secret": state.client_secret, "requires_action": state.requires_action}
    )


@login_required
@require_http_methods(["GET", "POST"])
def booking_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """A confirmation page saying whether a refund applies; POST cancels through `booking_cancel_and_refund`."""
    booking = get_object_or_404(_own_bookings(request), pk=pk)
    if request.method == "POST":
        try:
            result = checkout_services.booking_cancel_and_refund(booking_id=booking.pk, by=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
            booking = get_object_or_404(_own_bookings(request), pk=pk)
        else:
            messages.success(request, _cancelled_message(result))
            return redirect("portal:my-bookings")
    now = timezone.now()
    return render(
        request,
        "portal/booking_cancel.html",
        {
            "booking": booking,
            "theme": booking.slot.theme,
            "merchant": booking.slot.theme.merchant,
            "status": selectors.booking_effective_status(booking, now=now),
            "terms": services.booking_cancel_terms(booking=booking, by=request.user, now=now),
            "policy": booking_cancellation_policy(booking, now=now),
        },
    )


def _cancelled_message(result: checkout_services.CancelResult) -> str:
    """What the cancel did under its lock (a payment may have landed since the page was shown)."""
    booking = result.booking
    done = f"Booking #{booking.pk} for {booking.slot.theme.title} is cancelled."
    if result.refund_amount:
        refund = format_money(result.refund_amount, booking.currency)
        if result.refund_percent >= 100:
            return f"{done} A full refund of {refund} is on its way to your card."
        return f"{done} A refund of {refund} ({result.refund_percent} %) is on its way to your card."
    if result.payment_kept:
        return f"{done} Under its cancellation policy no refund applies now: the payment is kept."
    if booking.amount:
        return (
            f"{done} No payment had gone through, so nothing was charged "
            "(a payment still in progress is refunded automatically)."
        )
    return done


# --- Change time (API.md "Reschedule") ----------------------------------------------------------

RESCHEDULE_SLOTS_SHOWN = 60


@dataclass(frozen=True)
class RescheduleOption:
    """Another time of the booking's theme, as the customer may or may not choose it."""

    slot: Slot
    amount: int  # what the booking would cost there (bookings.pricing, its own party and tickets)
    seats_left: int
    state: str  # "available", "dearer", "full"

    @property
    def cheaper_by(self) -> int:
        """What the booking would cost less there (0 when it costs the same or more)."""
        return max(self.current - self.amount, 0)

    current: int = 0  # what the booking costs now


def _reschedule_options(booking: Booking, *, now: datetime) -> list[RescheduleOption]:
    """The theme's open future times but the booking's own: same-or-cheaper with seats is selectable.

    The service checks all of it again under the locks; this only shows it.
    """
    slots = slot_list_for_theme(theme_id=booking.slot.theme_id, now=now).filter(status=SlotStatus.OPEN)
    options = []
    for slot in slots.exclude(pk=booking.slot_id).select_related("theme")[:RESCHEDULE_SLOTS_SHOWN]:
        try:
            price = booking_price(
                slot=slot, party_size=None if booking.tickets else booking.party_size, tickets=booking.tickets or None
            )
        except DomainError:
            continue  # the theme's tiers changed: nothing can be priced (the service refuses too)
        amount = max(price.amount - booking.discount, 0)
        seats_left = int(getattr(slot, "seats_left", 0))
        if booking.party_size > seats_left:
            state = "full"
        elif amount > booking.amount:
            state = "dearer"
        else:
            state = "available"
        options.append(
            RescheduleOption(slot=slot, amount=amount, seats_left=seats_left, state=state, current=booking.amount)
        )
    return options


@login_required
@require_http_methods(["GET", "POST"])
def booking_reschedule(request: HttpRequest, pk: int) -> HttpResponse:
    """The "Change time" page: the theme's other open times; POST `slot` moves the booking (checkout.services)."""
    booking = get_object_or_404(_own_bookings(request), pk=pk)
    if request.method == "POST":
        try:
            slot_id = int(request.POST.get("slot", ""))
        except ValueError:
            messages.error(request, "Choose one of the times below.")
        else:
            try:
                result = checkout_services.booking_reschedule(booking_id=booking.pk, slot_id=slot_id, by=request.user)
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _rescheduled_message(result))
                return redirect("portal:my-bookings")
        booking = get_object_or_404(_own_bookings(request), pk=pk)
    now = timezone.now()
    refusal = services.booking_reschedule_refusal(booking=booking, by=request.user, now=now)
    return render(
        request,
        "portal/booking_reschedule.html",
        {
            "booking": booking,
            "theme": booking.slot.theme,
            "merchant": booking.slot.theme.merchant,
            "refusal": refusal,
            "options": [] if refusal else _reschedule_options(booking, now=now),
        },
    )


def _rescheduled_message(result: checkout_services.RescheduleResult) -> str:
    booking = result.booking
    slot = booking.slot
    tz_name = slot.theme.merchant.timezone
    when = f"{timezone.localtime(slot.starts_at, zoneinfo.ZoneInfo(tz_name)):%a %-d %b %Y, %H:%M} ({tz_name})"
    if not result.moved:
        return f"Booking #{booking.pk} already starts {when}: nothing changed."
    done = f"Booking #{booking.pk} for {slot.theme.title} now starts {when}."
    if result.refund_amount:
        refund = format_money(result.refund_amount, booking.currency)
        return f"{done} The price difference, {refund}, is being refunded to your card."
    return done


# --- Waitlist (API.md "Waitlist", bookings.waitlist) ---------------------------------------------


@login_required
@require_POST
def theme_waitlist_join(request: HttpRequest, pk: int) -> HttpResponse:
    """The theme page's "Join the waitlist" on a full time: POST `slot` and `party_size`; back to the page."""
    back = redirect("portal:theme-detail", pk=pk)
    # Counted like the API's waitlist joins and bookings, in the same per-user bucket (bookings.throttles).
    wait = join_attempt_wait(request)
    if wait:
        messages.error(request, f"Too many booking attempts in a short time. Try again in {wait} seconds.")
        return back
    slot = (
        slot_list_for_theme(theme_id=pk, now=timezone.now())
        .filter(pk=_posted_int(request, "slot") or 0)
        .select_related("theme")
        .first()
    )
    if slot is None:
        messages.error(request, "Choose one of the full times of this theme.")
        return back
    party_size = _posted_int(request, "party_size")
    if party_size is None or party_size < 1:
        messages.error(request, "Enter how many people come, a whole number.")
        return back
    try:
        waitlist_join(slot_id=slot.pk, customer=request.user, party_size=party_size)
    except DomainError as exc:
        messages.error(request, exc.message)
        return back
    tz_name = slot.theme.merchant.timezone
    when = f"{timezone.localtime(slot.starts_at, zoneinfo.ZoneInfo(tz_name)):%a %-d %b, %H:%M}"
    messages.success(
        request,
        f"You are on the waitlist for {when} ({party_size} {'person' if party_size == 1 else 'people'}). "
        "We email you as soon as a place opens up.",
    )
    return redirect("portal:my-bookings")


@login_required
@require_POST
def waitlist_leave_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The "Leave" button on My bookings: the caller's own entry only (anyone else's is a 404)."""
    try:
        waitlist_leave(entry_id=pk, customer=request.user)
    except DomainError as exc:
        if exc.http_status == 404:
            raise Http404("No such waitlist entry.") from None
        messages.error(request, exc.message)
    else:
        messages.success(request, "You left the waitlist.")
    return redirect("portal:my-bookings")


def _posted_int(request: HttpRequest, name: str) -> int | None:
    try:
        value = int(request.POST.get(name, ""))
    except ValueError:
        return None
    return value if -(2**31) < value < 2**31 else None
