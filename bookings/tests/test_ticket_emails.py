"""Emails say who comes on a tiered booking: "3 places (2 adults, 1 child)", to the customer and the merchant."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings import services
from catalog.tests.factories import SlotFactory
from merchants.models import BookingEmails
from payments.models import PaymentStatus
from payments.tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db

TIERS = [{"code": "adult", "label": "Adult", "price": 2500}, {"code": "child", "label": "Child", "price": 1500}]


def html_of(message) -> str:
    ((html, _),) = message.alternatives
    return html


def test_confirmation_and_merchant_notice_list_the_tickets(mailoutbox, django_capture_on_commit_callbacks):
    starts_at = timezone.now() + timedelta(days=3)
    slot = SlotFactory(
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=60),
        capacity=6,
        theme__title="The Vault",
        theme__currency="eur",
        theme__price_tiers=TIERS,
        theme__merchant__booking_emails=BookingEmails.EACH,
    )
    customer = UserFactory(full_name="Ada Lovelace")
    booking = services.booking_join(
        slot_id=slot.pk,
        customer=customer,
        tickets=[{"tier": "adult", "quantity": 2}, {"tier": "child", "quantity": 1}],
    )
    with django_capture_on_commit_callbacks(execute=True):
        PaymentFactory(booking=booking, status=PaymentStatus.SUCCEEDED, succeeded_at=timezone.now())
        services.booking_confirm_payment(booking_id=booking.pk)

    (to_customer,) = [m for m in mailoutbox if m.to == [customer.email]]
    (to_merchant,) = [m for m in mailoutbox if m.to == [slot.theme.merchant.owner.email]]
    for body in (to_customer.body, html_of(to_customer), to_merchant.body, html_of(to_merchant)):
        assert "3 places (2 adults, 1 child)" in body
    assert "€65.00" in to_customer.body


def test_an_untiered_booking_email_reads_as_before(mailoutbox, django_capture_on_commit_callbacks):
    slot = SlotFactory(capacity=6, theme__price=0)
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=2)

    (message,) = [m for m in mailoutbox if m.subject.startswith("Booking confirmed")]
    assert "Party:      2 places\n" in message.body
