"""Tiered cancellation (API.md "Theme and slot fields" `cancellation_policy`): the refund at every tier boundary.

The boundary rule, decided here and in bookings.policy: a tier is still ahead
when its deadline (`hours_before` hours before the start) is at or after now,
so a cancellation exactly at the deadline still gets that tier's refund, as
the single cutoff always did (now <= deadline).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.tests.factories import UserFactory
from bookings.policy import (
    RefundTier,
    cancellation_policy,
    effective_policy,
    policy_tiers,
    refund_amount,
    refund_percent_at,
)
from bookings.services import booking_cancel_terms
from bookings.tests.factories import ConfirmedBookingFactory
from catalog.tests.factories import SlotFactory

START = datetime(2030, 12, 5, 17, 0, tzinfo=UTC)  # 18:00 in Berlin (CET)

tier_lists = st.lists(
    st.fixed_dictionaries({"hours_before": st.integers(0, 24 * 14), "refund_percent": st.integers(0, 100)}),
    min_size=1,
    max_size=6,
)


def reference_percent(raw: list[dict], *, cutoff: int, starts_at: datetime, now: datetime) -> int | None:
    """The rule as API.md words it, written independently of bookings.policy."""
    tiers = raw or [{"hours_before": cutoff, "refund_percent": 100}]
    for tier in sorted(tiers, key=lambda t: -t["hours_before"]):
        if starts_at - timedelta(hours=tier["hours_before"]) >= now:  # still ahead, the deadline included
            return tier["refund_percent"]
    return 0 if any(t["refund_percent"] == 0 for t in tiers) else None


def _max_percent_at(raw, hours):
    """Several tiers with one hours_before: the most generous wins (they share a deadline)."""
    return max(t["refund_percent"] for t in raw if t["hours_before"] == hours)


@given(raw=tier_lists, offset_seconds=st.sampled_from([-1, 0, 1]), pick=st.integers(0, 5))
def test_refund_percent_at_every_tier_boundary(raw, offset_seconds, pick):
    tiers = policy_tiers(raw, cutoff_hours=24)
    tier = raw[pick % len(raw)]
    now = START - timedelta(hours=tier["hours_before"], seconds=offset_seconds)

    got = refund_percent_at(tiers, starts_at=START, now=now)

    expected = reference_percent(raw, cutoff=24, starts_at=START, now=now)
    if expected is not None and got != expected:
        # Only duplicate hours_before may differ in order: the generous one is taken.
        hours = next(t.hours_before for t in tiers if START - timedelta(hours=t.hours_before) >= now)
        expected = _max_percent_at(raw, hours)
    assert got == expected
    if offset_seconds >= 0:  # at the deadline or before it: that tier (or a larger one) still applies
        assert got is not None


@given(raw=tier_lists)
def test_exactly_at_a_deadline_counts_as_still_ahead(raw):
    tiers = policy_tiers(raw, cutoff_hours=24)
    for tier in tiers:
        deadline = START - timedelta(hours=tier.hours_before)
        at = refund_percent_at(tiers, starts_at=START, now=deadline)
        assert at == next(t.refund_percent for t in tiers if START - timedelta(hours=t.hours_before) >= deadline)


@given(paid=st.integers(0, 10**12), percent=st.integers(0, 100))
def test_refund_amount_is_the_percent_rounded_half_even_never_more_than_paid(paid, percent):
    exact = (Decimal(paid) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)

    amount = refund_amount(paid=paid, percent=percent)

    assert amount == int(exact)
    assert 0 <= amount <= paid
    assert refund_amount(paid=paid, percent=100) == paid
    assert refund_amount(paid=paid, percent=percent, left=paid // 3) <= paid // 3


@pytest.mark.parametrize(("paid", "percent", "amount"), [(2999, 50, 1500), (2997, 50, 1498), (5, 50, 2), (7, 50, 4)])
def test_half_even_examples_in_minor_units(paid, percent, amount):
    """Zero-decimal currencies too: the minor unit is the unit (JPY 2999 -> 1500)."""
    assert refund_amount(paid=paid, percent=percent) == amount


@given(cutoff=st.integers(0, 24 * 30), offset_minutes=st.integers(-60 * 24 * 40, 60 * 24 * 40))
def test_the_default_policy_is_todays_single_cutoff(cutoff, offset_minutes):
    now = START - timedelta(hours=cutoff) + timedelta(minutes=offset_minutes)

    percent = refund_percent_at(policy_tiers([], cutoff_hours=cutoff), starts_at=START, now=now)

    assert percent == (100 if now <= START - timedelta(hours=cutoff) else None)


def test_the_policy_text_lists_every_tier_in_the_merchants_time():
    tiers = policy_tiers(
        [
            {"hours_before": 24, "refund_percent": 50},
            {"hours_before": 48, "refund_percent": 100},
            {"hours_before": 0, "refund_percent": 0},
        ],
        cutoff_hours=24,
    )
    now = START - timedelta(days=5)

    policy = cancellation_policy(
        starts_at=START, cutoff_hours=24, paid=True, tz_name="Europe/Berlin", now=now, tiers=tiers
    )

    assert (
        policy.text == "Until Tue 3 Dec, 18:00: full refund; until Wed 4 Dec, 18:00: 50 % refund; after that: no refund"
    )
    assert policy.refundable
    assert policy.refund_percent == 100
    later = cancellation_policy(
        starts_at=START,
        cutoff_hours=24,
        paid=True,
        tz_name="Europe/Berlin",
        now=START - timedelta(hours=30),
        tiers=tiers,
    )
    assert later.text == "Until Wed 4 Dec, 18:00: 50 % refund; after that: no refund"
    assert later.refund_percent == 50
    assert later.warning == ""


def test_without_a_zero_tier_the_text_says_cancelling_ends():
    tiers = (RefundTier(hours_before=72, refund_percent=100), RefundTier(hours_before=24, refund_percent=25))
    policy = cancellation_policy(
        starts_at=START, cutoff_hours=24, paid=True, tz_name="UTC", now=START - timedelta(days=4), tiers=tiers
    )
    assert policy.text.endswith("; after that: no cancellation")


def test_the_single_cutoff_keeps_its_words():
    policy = cancellation_policy(
        starts_at=START,
        cutoff_hours=24,
        paid=True,
        tz_name="Europe/Berlin",
        now=START - timedelta(days=3),
        tiers=policy_tiers([], cutoff_hours=24),
    )
    assert policy.text == "Free cancellation until Wednesday 4 December 2030, 18:00 (Europe/Berlin)"


# --- booking_cancel_terms applies it -------------------------------------------------------------


def _booking(policy, *, hours_ahead: float, price: int = 3000, party: int = 1):
    start = timezone.now() + timedelta(hours=hours_ahead)
    slot = SlotFactory(
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        theme__price=price,
        theme__cancellation_cutoff_hours=24,
        theme__cancellation_policy=policy,
    )
    return ConfirmedBookingFactory(slot=slot, party_size=party, amount=price * party)


TIERED = [{"hours_before": 48, "refund_percent": 100}, {"hours_before": 24, "refund_percent": 50}]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("policy", "hours_ahead", "allowed", "amount", "percent"),
    [
        (TIERED, 72, True, 3000, 100),
        (TIERED, 30, True, 1500, 50),
        (TIERED, 10, False, 0, 0),  # no tier ahead and none gives 0 %: not_cancellable
        ([*TIERED, {"hours_before": 0, "refund_percent": 0}], 10, True, 0, 0),  # allowed, nothing back
        ([{"hours_before": 48, "refund_percent": 100}, {"hours_before": 12, "refund_percent": 0}], 30, True, 0, 0),
        ([], 30, True, 3000, 100),  # the default: today's cutoff of 24 hours
        ([], 10, False, 0, 0),
    ],
)
def test_terms_give_the_exact_refund_of_the_tier_ahead(policy, hours_ahead, allowed, amount, percent):
    booking = _booking(policy, hours_ahead=hours_ahead)

    terms = booking_cancel_terms(booking=booking, by=booking.customer)

    assert terms.allowed is allowed
    assert (terms.refund_amount, terms.refund_percent) == (amount, percent)
    assert terms.refund is (amount > 0)
    if not allowed:
        assert "hours before the start" in terms.reason


@pytest.mark.django_db
def test_a_zero_tier_never_allows_a_customer_cancel_after_the_start():
    booking = _booking(
        [{"hours_before": 24, "refund_percent": 100}, {"hours_before": 0, "refund_percent": 0}], hours_ahead=0.5
    )
    assert booking_cancel_terms(booking=booking, by=booking.customer).allowed
    later = timezone.now() + timedelta(hours=1)
    assert not booking_cancel_terms(booking=booking, by=booking.customer, now=later).allowed


@pytest.mark.django_db
def test_the_merchant_always_refunds_in_full():
    booking = _booking(TIERED, hours_ahead=10)
    owner = booking.slot.theme.merchant.owner

    terms = booking_cancel_terms(booking=booking, by=owner)

    assert (terms.allowed, terms.refund_amount, terms.refund_percent) == (True, 3000, 100)
    assert not booking_cancel_terms(booking=booking, by=UserFactory()).allowed  # a stranger has customer rules


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=tier_lists, hours_ahead=st.integers(1, 24 * 15), price=st.integers(1, 99_999))
def test_terms_agree_with_the_policy_text_and_the_percent(raw, hours_ahead, price):
    booking = _booking(raw, hours_ahead=hours_ahead, price=price)
    now = timezone.now()
    tiers = effective_policy(booking.slot.theme)

    terms = booking_cancel_terms(booking=booking, by=booking.customer, now=now)
    percent = refund_percent_at(tiers, starts_at=booking.slot.starts_at, now=now)

    assert terms.allowed is (percent is not None)
    if percent is not None:
        assert terms.refund_percent == percent
        assert terms.refund_amount == refund_amount(paid=price, percent=percent)
