"""A small, complete world for the API-wide tests: every role and one object of each kind.

- `customer` holds a pending booking on `slot` (a future slot of `theme`, owned by
  `owner`'s merchant), a confirmed booking on `past_slot` (started, so attendance
  can be marked), an attended booking of `theme` (so they may review it, and have
  not yet), and a review of `reviewed_theme`.
- `join_slot` is a future slot of `theme` nobody booked.
- `other_customer` has nothing; `other_merchant` is an approved merchant with a
  theme of their own; `pending_merchant` waits for approval; `admin` is staff.
- `staff` may log into Django admin but has the customer role and nothing booked:
  in the API exactly another customer (is_staff grants no API power).
- `suspended_owner` is `owner` after an admin suspended `merchant`, keeping its bookings
  (`World.prepare`): every object of theirs is out of their sight, as for anyone but
  admins, except that they still see participants and mark attendance.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import DEFAULT_PASSWORD, AdminFactory, UserFactory
from bookings.models import Booking
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from catalog.models import Slot, Theme
from catalog.tests.factories import SlotFactory, ThemeFactory
from checkout.services import merchant_suspend
from conftest import bearer_client
from merchants.models import Merchant
from merchants.tests.factories import MerchantFactory, PendingMerchantFactory
from reviews.models import Review
from reviews.tests.factories import ReviewFactory, attend

ACTORS = ("anonymous", "customer", "other_customer", "owner", "other_merchant", "admin", "staff", "suspended_owner")
PASSWORD = DEFAULT_PASSWORD


@dataclass
class World:
    customer: User
    other_customer: User
    owner: User
    other_merchant: User
    admin: User
    staff: User
    merchant: Merchant
    other_merchant_profile: Merchant
    pending_merchant: Merchant
    theme: Theme
    other_theme: Theme
    reviewed_theme: Theme
    slot: Slot
    join_slot: Slot
    past_slot: Slot
    booking: Booking
    attendance_booking: Booking
    review: Review

    def user(self, actor: str) -> User | None:
        if actor == "suspended_owner":
            return self.owner
        return None if actor == "anonymous" else getattr(self, actor)

    def prepare(self, actor: str) -> None:
        """Bring the world into `actor`'s situation: for `suspended_owner`, an admin suspends `merchant` first."""
        if actor == "suspended_owner":
            merchant_suspend(merchant=self.merchant, by=self.admin, reason="Test suspension", keep_bookings=True)
            self.owner.refresh_from_db()

    def client(self, actor: str) -> APIClient:
        user = self.user(actor)
        return APIClient() if user is None else bearer_client(user)


def build_world() -> World:
    now = timezone.now()
    customer = UserFactory()
    merchant = MerchantFactory()
    other = MerchantFactory()
    theme = ThemeFactory(merchant=merchant)
    reviewed_theme = ThemeFactory(merchant=merchant)
    # Fixed times, not the factory's sequence (which drifts weeks ahead over a session):
    # the tests create slots 30 and 60 days out and must never overlap these.
    soon = (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    slot = SlotFactory(theme=theme, starts_at=soon)
    past_start = (now - timedelta(hours=3)).replace(microsecond=0)
    past_slot = SlotFactory(theme=theme, starts_at=past_start, ends_at=past_start + timedelta(hours=1))
    attended_start = past_start - timedelta(days=3)
    attend(customer, theme, slot=SlotFactory(theme=theme, starts_at=attended_start))
    attend(customer, reviewed_theme)
    return World(
        customer=customer,
        other_customer=UserFactory(),
        owner=merchant.owner,
        other_merchant=other.owner,
        admin=AdminFactory(),
        staff=UserFactory(is_staff=True),
        merchant=merchant,
        other_merchant_profile=other,
        pending_merchant=PendingMerchantFactory(),
        theme=theme,
        other_theme=ThemeFactory(merchant=other),
        reviewed_theme=reviewed_theme,
        slot=slot,
        join_slot=SlotFactory(theme=theme, starts_at=soon + timedelta(days=1)),
        past_slot=past_slot,
        booking=BookingFactory(slot=slot, customer=customer),
        attendance_booking=ConfirmedBookingFactory(slot=past_slot, customer=customer),
        review=ReviewFactory(author=customer, theme=reviewed_theme),
    )


def unreachable_url() -> str:
    """A local URL nothing listens on: Stripe calls fail at once with a connection error."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
