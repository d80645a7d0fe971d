import zoneinfo
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Role, User
from bookings.models import Booking, BookingStatus
from catalog.models import Slot, Theme
from merchants.models import Merchant, MerchantStatus
from payments.ledger import booking_net, fee_amount
from payments.models import (
    ConnectedAccount,
    ConnectedAccountStatus,
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentStatus,
    Transfer,
    TransferStatus,
)
from payments.payout_selectors import payout_balances
from payments.transfers import transfers_record_due
from portal.demo import ADMIN_EMAIL, CUSTOMER_EMAIL, DEMO_PASSWORD, DEMO_WIDGET_ORIGINS, MERCHANT_EMAIL
from portal.management.commands.seed_demo import DEMO_ACCOUNT_ID, NYC_EMAIL
from reviews.models import Review

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_the_demo_accounts_once():
    call_command("seed_demo", "--not-production")
    tables = (User, Merchant, Theme, Slot, Booking, Payment, LedgerEntry, Transfer, ConnectedAccount)
    counts = [model.objects.count() for model in tables]

    call_command("seed_demo", "--not-production")

    assert [model.objects.count() for model in tables] == counts
    assert User.objects.get(email=ADMIN_EMAIL).is_superuser
    assert User.objects.get(email=MERCHANT_EMAIL).role == Role.MERCHANT
    assert User.objects.get(email=CUSTOMER_EMAIL).role == Role.CUSTOMER
    assert User.objects.get(email=CUSTOMER_EMAIL).check_password(DEMO_PASSWORD)


def test_seed_demo_makes_approved_merchants_in_three_timezones_and_a_free_theme():
    call_command("seed_demo", "--not-production")

    merchants = Merchant.objects.all()
    assert {m.status for m in merchants} == {MerchantStatus.APPROVED}
    assert {m.timezone for m in merchants} == {"Europe/Lisbon", "America/New_York", "Asia/Tokyo"}
    assert Merchant.objects.get(owner__email=MERCHANT_EMAIL).city == "Lisbon"
    # The booking widget can be tried from a page on port 8001 (README).
    assert Merchant.objects.get(owner__email=MERCHANT_EMAIL).widget_origins == list(DEMO_WIDGET_ORIGINS)
    assert Theme.objects.count() == 10
    assert Theme.objects.filter(price=0).count() == 1


def test_seed_demo_shows_each_way_of_selling():
    call_command("seed_demo", "--not-production")

    now = timezone.now()
    room = Theme.objects.get(title="The Cartographer's Study", merchant__owner__email=MERCHANT_EMAIL)
    assert (room.booking_mode, room.private_price) == ("private", 9000)
    assert [tier["code"] for tier in room.price_tiers] == ["adult", "child"]
    assert room.cancellation_policy[0] == {"hours_before": 48, "refund_percent": 100}
    workshop = Theme.objects.get(title="Pastel de Nata Workshop")
    assert workshop.min_players == 4
    # Every past workshop reached its minimum, so the demo history reads like real runs.
    for slot in Slot.objects.filter(theme=workshop, starts_at__lte=now):
        assert sum(b.party_size for b in slot.bookings.all()) >= 4
    # Peak prices: Friday and Saturday evenings only, at the tour's and the room's peak.
    tz = zoneinfo.ZoneInfo("Europe/Lisbon")
    for title, evening, peak in (("Tram 28 Tasting Tour", 18, 4000), ("The Cartographer's Study", 19, 12000)):
        upcoming = Slot.objects.filter(theme__title=title, starts_at__gt=now)
        assert upcoming.count() == 30 * (2 if evening == 18 else 3)
        for slot in upcoming:
            local = slot.starts_at.astimezone(tz)
            is_peak = local.weekday() in (4, 5) and local.hour == evening
            assert slot.price == (peak if is_peak else None), (title, local)
        assert upcoming.filter(price=peak).count() >= 8
    # Old shapes stay: a shared per-person theme with no tiers and no minimum.
    plain = Theme.objects.get(title="Subway Heist")
    assert (plain.booking_mode, plain.price_tiers, plain.min_players, plain.private_price) == ("shared", [], 1, None)


def test_seed_demo_slots_are_valid_and_at_local_opening_hours_and_only_the_history_is_past():
    call_command("seed_demo", "--not-production")

    now = timezone.now()
    past = Slot.objects.filter(starts_at__lte=now)
    assert set(past.values_list("theme__merchant__owner__email", flat=True)) == {MERCHANT_EMAIL, NYC_EMAIL}
    assert past.filter(theme__merchant__owner__email=MERCHANT_EMAIL).count() == 5
    assert past.count() == 7
    for slot in Slot.objects.select_related("theme__merchant"):
        theme = slot.theme
        local = slot.starts_at.astimezone(zoneinfo.ZoneInfo(theme.merchant.timezone))
        assert (slot.ends_at - slot.starts_at).total_seconds() == theme.duration_minutes * 60
        assert theme.min_party <= theme.max_party <= slot.capacity
        assert 10 <= local.hour <= 22
    assert Slot.objects.filter(theme__title="Subway Heist", starts_at__gt=now).count() == 30 * 3


def test_seed_demo_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="public password"):
        call_command("seed_demo")
    assert not Merchant.objects.exists()


def test_seed_demo_history_lets_attendance_and_reviews_be_tried_at_once():
    call_command("seed_demo", "--not-production")

    now = timezone.now()
    lisbon = Booking.objects.filter(slot__theme__merchant__owner__email=MERCHANT_EMAIL, slot__starts_at__lte=now)
    assert lisbon.filter(status=BookingStatus.ATTENDED).count() >= 3
    assert lisbon.filter(status=BookingStatus.NO_SHOW).count() >= 2
    # Confirmed bookings of a slot that has started: the merchant can mark them straight away.
    assert lisbon.filter(status=BookingStatus.CONFIRMED).count() >= 2
    # Upcoming bookings only on the sold-out slot with a waitlist (seed_demo._seed_waitlist).
    assert not Booking.objects.filter(slot__starts_at__gt=now).exclude(slot__waitlist_entries__isnull=False).exists()
    # Every booking went through the services: each has its audit trail, paid ones their confirmation.
    for booking in lisbon:
        assert booking.status_changes.exists()
        assert booking.confirmed_at is not None
        assert booking.confirmed_at < booking.slot.starts_at
    assert Review.objects.count() >= 3
    theme = Theme.objects.get(title="Alfama Night Walk")
    assert theme.review_count == 2

    # The demo customer has an attended theme she has not reviewed yet: she can write one now.
    customer = User.objects.get(email=CUSTOMER_EMAIL)
    attended = set(
        lisbon.filter(customer=customer, status=BookingStatus.ATTENDED).values_list("slot__theme", flat=True)
    )
    reviewed = set(Review.objects.filter(author=customer).values_list("theme", flat=True))
    assert attended - reviewed


def test_seed_demo_payouts_one_merchant_onboarded_and_transferred_one_not_onboarded_and_owed(settings):
    settings.PAYOUT_DELAY_HOURS = 24
    call_command("seed_demo", "--not-production")

    lisbon = Merchant.objects.get(owner__email=MERCHANT_EMAIL)
    nyc = Merchant.objects.get(owner__email=NYC_EMAIL)
    account = ConnectedAccount.objects.get()
    assert (account.merchant, account.stripe_account_id, account.status) == (
        lisbon,
        DEMO_ACCOUNT_ID,
        ConnectedAccountStatus.ENABLED,
    )
    assert account.payouts_enabled
    assert account.charges_enabled
    assert account.details_submitted

    # Every paid booking has its succeeded Payment with a charge id, and its charge and 10 % fee in the ledger.
    paid = Booking.objects.filter(amount__gt=0)
    assert paid.count() >= 10
    for booking in paid.select_related("payment"):
        payment = booking.payment
        assert (payment.status, payment.amount, payment.currency) == (
            PaymentStatus.SUCCEEDED,
            booking.amount,
            booking.currency,
        )
        # New York's demo charges exist at no Stripe: without an id, its transfers need no source charge.
        assert payment.stripe_charge_id.startswith("ch_") == (booking.slot.theme.merchant.owner.email == MERCHANT_EMAIL)
        entries = dict(
            LedgerEntry.objects.filter(booking=booking).exclude(kind=LedgerKind.TRANSFER).values_list("kind", "amount")
        )
        assert entries == {
            LedgerKind.CHARGE: booking.amount,
            LedgerKind.FEE: -fee_amount(amount=booking.amount, fee_bps=1000),
        }

    # Lisbon: a few bookings already transferred, each with its Stripe id and ledger entry.
    transfers = Transfer.objects.filter(merchant=lisbon)
    assert transfers.count() >= 4
    assert not Transfer.objects.filter(merchant=nyc).exists()
    for transfer in transfers:
        assert transfer.status == TransferStatus.PAID
        assert transfer.stripe_transfer_id.startswith("tr_")
        assert transfer.booking.status in (BookingStatus.ATTENDED, BookingStatus.NO_SHOW, BookingStatus.CONFIRMED)
        assert transfer.amount == booking_net(booking_id=transfer.booking_id) > 0
        assert transfer.transferred_at >= transfer.booking.slot.ends_at + timedelta(hours=24)
        entry = LedgerEntry.objects.get(booking=transfer.booking, kind=LedgerKind.TRANSFER)
        assert (entry.amount, entry.stripe_id) == (-transfer.amount, transfer.stripe_transfer_id)
    # Nothing is left that the sweep would transfer now: the demo is where the sweep would have left it.
    assert transfers_record_due() == 0

    # New York never onboarded: everything its paid bookings earned is owed, nothing transferred.
    [nyc_usd] = payout_balances(merchant=nyc)
    nyc_paid = paid.filter(slot__theme__merchant=nyc)
    assert nyc_paid.count() >= 3
    gross = sum(b.amount for b in nyc_paid)
    assert (nyc_usd.currency, nyc_usd.gross, nyc_usd.transferred) == ("usd", gross, 0)
    assert nyc_usd.owed == gross - nyc_usd.fees > 0
