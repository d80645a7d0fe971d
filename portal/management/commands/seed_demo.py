"""Fill an empty database with demo data, once: accounts, merchants, themes, a month of slots,
and a few days of history at the demo merchant so attendance and reviews can be tried at once.

Idempotent: a database that already holds the demo merchant is left alone.
The accounts share one public password, so the command refuses to run with
DEBUG off unless told that this is not production.

The history (past slots, bookings, attendance, reviews) goes through the same
services as the pages, each called with `now=` set to the moment the step would
have happened: a slot is opened two days before it starts, booked and paid the
day before, marked attended or no-show after it started. The services take the
clock as an argument, so no rule is relaxed ("no past slots" still holds for the
`now` each one is given). Paid demo bookings are confirmed by
`booking_confirm_payment` as a successful payment would; their Payment rows
are written as Stripe would have left them (succeeded, with an intent and a
charge id that exist at no Stripe), and the ledger records each charge and fee
(payments.ledger). Demo data never calls Stripe, so it works with no Stripe
reachable.

Payouts: the demo merchant (Lisbon) finished Stripe onboarding before its
history (a ConnectedAccount, enabled, `acct_demo_lisbon`), and every paid
booking whose slot ended more than PAYOUT_DELAY_HOURS ago is transferred, as
the transfer sweep would have done (a paid Transfer with a `tr_demo_` id and
its ledger entry); the rest is still owed. The New York merchant never
started payouts: its paid history is owed money, transferred by the sweep once
its owner onboards (through the Stripe stand-in in development). Its payments
carry no charge id: a transfer names its source charge only when there is one,
and the stand-in (like Stripe) refuses a charge it does not hold, so the
sweep's transfers after onboarding go through in development too.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from bookings.models import BookingStatus
from bookings.promo import promo_code_create
from bookings.services import booking_confirm_payment, booking_join, booking_mark_attendance
from bookings.waitlist import waitlist_join
from catalog.models import Theme
from catalog.services import slot_bulk_create, slot_create, theme_create
from merchants.models import Merchant
from merchants.services import merchant_apply, merchant_approve, merchant_update_settings
from payments.ledger import booking_net, ledger_record_charge, ledger_record_transfer
from payments.models import ConnectedAccount, ConnectedAccountStatus, Payment, PaymentStatus, Transfer, TransferStatus
from payments.transfers import transfer_idempotency_key
from portal.demo import (
    ADMIN_EMAIL,
    CUSTOMER_EMAIL,
    DEMO_LOGINS,
    DEMO_PASSWORD,
    DEMO_PROMO_CODE,
    DEMO_PROMO_MAX,
    DEMO_PROMO_PERCENT,
    DEMO_WIDGET_ORIGINS,
    MERCHANT_EMAIL,
)
from portal.demo_photos import add_demo_photos
from reviews.services import review_create

SLOT_DAYS = 30


@dataclass(frozen=True)
class DemoTheme:
    title: str
    description: str
    duration_minutes: int
    price: int
    min_party: int
    max_party: int
    capacity: int
    local_times: tuple[str, ...]
    # How it is sold (API.md "Theme and slot fields"); the defaults are a plain shared theme.
    selling: dict = field(default_factory=dict)
    # Peak pricing: slots on these weekdays (0 = Monday) at these local times cost `peak_price`.
    peak_weekdays: tuple[int, ...] = ()
    peak_times: tuple[str, ...] = ()
    peak_price: int | None = None


@dataclass(frozen=True)
class DemoMerchant:
    owner_email: str
    owner_name: str
    name: str
    description: str
    city: str
    timezone: str
    currency: str
    themes: tuple[DemoTheme, ...]


# Start times of one theme are at least four hours apart and no theme lasts
# longer than two hours, so a theme's slots never overlap.
MERCHANTS = (
    DemoMerchant(
        owner_email=MERCHANT_EMAIL,
        owner_name="Marta Merchant",
        name="Lisbon Lock & Key",
        description="Escape rooms, workshops and walks in the old town.",
        city="Lisbon",
        timezone="Europe/Lisbon",
        currency="eur",
        themes=(
            DemoTheme(
                "The Alchemist's Cellar",
                "An escape room: brew the elixir and find the key before the candle burns out.",
                60, 2500, 2, 6, 6, ("10:00", "14:00", "18:30"),
            ),
            # A class that runs with at least 4 people: below that 12 hours before, it is cancelled and refunded.
            DemoTheme(
                "Pastel de Nata Workshop",
                "A cooking class: laminated dough, custard and a very hot oven. Runs with 4 bakers or more.",
                120, 4500, 1, 4, 10, ("10:30", "16:00"),
                selling={"min_players": 4, "min_players_deadline_hours": 12},
            ),
            DemoTheme(
                "Alfama Night Walk",
                "A free guided walk through the alleys of Alfama, with fado on the way.",
                90, 0, 1, 8, 20, ("20:00",),
            ),
            # A private room: one family or group per slot, a flat price for the group, adult and child
            # tickets saying who comes; Friday and Saturday evenings cost more.
            DemoTheme(
                "The Cartographer's Study",
                "A private escape room for your group only: redraw the lost map of Lisbon. Children welcome.",
                60, 2500, 2, 6, 6, ("11:00", "15:00", "19:00"),
                selling={
                    "booking_mode": "private",
                    "private_price": 9000,
                    "price_tiers": [
                        {"code": "adult", "label": "Adult", "price": 2500},
                        {"code": "child", "label": "Child", "price": 1500},
                    ],
                    "cancellation_policy": [
                        {"hours_before": 48, "refund_percent": 100},
                        {"hours_before": 24, "refund_percent": 50},
                    ],
                },
                peak_weekdays=(4, 5), peak_times=("19:00",), peak_price=12000,
            ),
            # A tour with peak prices: the Friday and Saturday sunset departures cost more.
            DemoTheme(
                "Tram 28 Tasting Tour",
                "A guided tour on and off the yellow tram, with petiscos at three tascas.",
                120, 3000, 1, 6, 14, ("11:00", "18:00"),
                peak_weekdays=(4, 5), peak_times=("18:00",), peak_price=4000,
            ),
        ),
    ),
    DemoMerchant(
        owner_email="merchant.nyc@bookwise.local",
        owner_name="Nate Newyork",
        name="Brooklyn Puzzle Works",
        description="Heists, ciphers and pizza in Brooklyn.",
        city="New York",
        timezone="America/New_York",
        currency="usd",
        themes=(
            DemoTheme(
                "Subway Heist",
                "An escape room: crack the vault of a 1920s subway station.",
                60, 3500, 2, 6, 6, ("11:00", "15:00", "19:00"),
            ),
            DemoTheme(
                "Pizza Dough Masterclass",
                "A cooking class: stretch, top and bake your own pie.",
                120, 6000, 1, 4, 12, ("12:00", "17:30"),
            ),
            DemoTheme(
                "Speakeasy Cipher",
                "A puzzle hunt: decode the password and get into the bar.",
                75, 3000, 2, 5, 5, ("18:00", "22:00"),
            ),
        ),
    ),
    DemoMerchant(
        owner_email="merchant.tokyo@bookwise.local",
        owner_name="Tomo Tokyo",
        name="Tokyo Craft Studio",
        description="Ninja games and sushi in Asakusa.",
        city="Tokyo",
        timezone="Asia/Tokyo",
        currency="usd",
        themes=(
            DemoTheme(
                "Ninja Dojo Escape",
                "An escape room: sneak out of the dojo without waking the master.",
                60, 2800, 2, 6, 6, ("10:00", "14:00", "18:00"),
            ),
            DemoTheme(
                "Sushi Rolling Class",
                "A cooking class: rice, nori and a sharp knife.",
                90, 5500, 1, 4, 8, ("11:30", "17:00"),
            ),
        ),
    ),
)  # fmt: skip


class Command(BaseCommand):
    help = "Create demo accounts, merchants, themes and a month of open slots, unless already seeded."

    def add_arguments(self, parser):
        parser.add_argument(
            "--not-production",
            action="store_true",
            help="Run even with DEBUG off (tests, staging): the demo accounts have a public password.",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["not_production"]:
            raise CommandError(
                "seed_demo creates accounts with a public password: it runs only with DEBUG=True "
                "(or with --not-production on a database that is not production)."
            )
        if Merchant.objects.filter(owner__email__iexact=MERCHANT_EMAIL).exists():
            self.stdout.write("Demo data already present; nothing seeded.")
        else:
            counts = seed()
            self.stdout.write(
                self.style.SUCCESS(
                    f"Seeded {counts['merchants']} merchants, {counts['themes']} themes, {counts['slots']} slots; "
                    f"{counts['past_slots']} past slots with {counts['past_bookings']} bookings "
                    f"and {counts['reviews']} reviews; {counts['transfers']} bookings transferred to "
                    f"{DEMO_ACCOUNT_ID}, {counts['owed']} paid bookings still owed."
                )
            )
        self.stdout.write(f"Demo logins (password {DEMO_PASSWORD}):")
        for role, email in DEMO_LOGINS:
            self.stdout.write(f"  {role:<9} {email}")
        self.stdout.write(f"Demo promo code: {DEMO_PROMO_CODE} ({DEMO_PROMO_PERCENT} % off the demo merchant's themes)")


def _user(email: str, full_name: str, role: str, *, admin: bool = False) -> User:
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        return user
    if admin:
        return User.objects.create_superuser(email=email, password=DEMO_PASSWORD, full_name=full_name)
    return User.objects.create_user(email=email, password=DEMO_PASSWORD, full_name=full_name, role=role)


@transaction.atomic
def seed() -> dict[str, int]:
    now = timezone.now()
    admin = _user(ADMIN_EMAIL, "Ada Admin", Role.ADMIN, admin=True)
    _user(CUSTOMER_EMAIL, "Carla Customer", Role.CUSTOMER)
    counts = {"merchants": 0, "themes": 0, "slots": 0}
    for demo in MERCHANTS:
        # Like a real merchant: a customer applies, an admin approves (the owner's role follows).
        owner = _user(demo.owner_email, demo.owner_name, Role.CUSTOMER)
        merchant = merchant_apply(
            user=owner, name=demo.name, description=demo.description, city=demo.city, timezone=demo.timezone
        )
        merchant = merchant_approve(merchant=merchant, by=admin)
        counts["merchants"] += 1
        if demo.owner_email == MERCHANT_EMAIL:
            promo_code_create(
                merchant=merchant, code=DEMO_PROMO_CODE, percent_off=DEMO_PROMO_PERCENT, max_redemptions=DEMO_PROMO_MAX
            )
            # The booking widget may be tried from a page served on port 8001 (README: "Booking widget").
            merchant = merchant_update_settings(merchant=merchant, widget_origins=list(DEMO_WIDGET_ORIGINS))
        # From tomorrow in the merchant's own calendar, every day, at the theme's local times
        # (the schedule service converts them to UTC, daylight-saving changes included).
        first_day = now.astimezone(zoneinfo.ZoneInfo(demo.timezone)).date() + timedelta(days=1)
        for index, spec in enumerate(demo.themes):
            theme = theme_create(
                merchant=merchant,
                title=spec.title,
                description=spec.description,
                duration_minutes=spec.duration_minutes,
                price=spec.price,
                currency=demo.currency,
                min_party=spec.min_party,
                max_party=spec.max_party,
                **spec.selling,
            )
            counts["themes"] += 1
            # Drawn illustrations (portal/demo_photos.py), uploaded like a merchant's: 1-3 per theme.
            photo_count = 1 if index else (3 if demo.owner_email == MERCHANT_EMAIL else 2)
            counts["photos"] = counts.get("photos", 0) + len(add_demo_photos(theme, photo_count))
            for weekdays, times, price in _schedules(spec):
                created, _skipped = slot_bulk_create(
                    theme=theme,
                    start_date=first_day,
                    end_date=first_day + timedelta(days=SLOT_DAYS - 1),
                    weekdays=weekdays,
                    times=[time.fromisoformat(hhmm) for hhmm in times],
                    capacity=spec.capacity,
                    price=price,
                    now=now,
                )
                counts["slots"] += created
    counts.update(_seed_history(now=now))
    _seed_waitlist(now=now)
    return counts


def _schedules(spec: DemoTheme) -> list[tuple[list[int], tuple[str, ...], int | None]]:
    """The weekly schedules of a theme as a merchant would enter them: (weekdays, times, price or None)."""
    every_day = list(range(7))
    if spec.peak_price is None:
        return [(every_day, spec.local_times, None)]
    off_peak_times = tuple(t for t in spec.local_times if t not in spec.peak_times)
    schedules: list[tuple[list[int], tuple[str, ...], int | None]] = [
        ([d for d in every_day if d not in spec.peak_weekdays], spec.peak_times, None),
        (list(spec.peak_weekdays), spec.peak_times, spec.peak_price),
    ]
    if off_peak_times:
        schedules.insert(0, (every_day, off_peak_times, None))
    return schedules


# --- History at the demo merchants ----------------------------------------------------------
# Guests who come to the demo merchants' past slots (same public password). The demo customer is
# among them: she attended "The Alchemist's Cellar" (and may write its review) and the Alfama walk
# (already reviewed, so she may edit it); yesterday's class still waits for the merchant to mark it.
GUESTS = (
    ("rui.guest@bookwise.local", "Rui Rocha"),
    ("sofia.guest@bookwise.local", "Sofia Santos"),
    ("tiago.guest@bookwise.local", "Tiago Teixeira"),
)
NYC_EMAIL = "merchant.nyc@bookwise.local"
# The demo merchant's Stripe Express account: it exists at no Stripe (demo data never calls Stripe).
DEMO_ACCOUNT_ID = "acct_demo_lisbon"


@dataclass(frozen=True)
class PastSlot:
    theme: str
    days_ago: int
    local_time: str
    # (email, party size, "attended" / "no_show" / "" to leave for the merchant, review (rating, comment) or None)
    guests: tuple[tuple[str, int, str, tuple[int, str] | None], ...]


# Oldest first within each merchant: weeks of paid history for the Payouts page's weekly chart.
PAST_SLOTS = {
    MERCHANT_EMAIL: (
        PastSlot("Pastel de Nata Workshop", 17, "10:30", (
            ("rui.guest@bookwise.local", 2, BookingStatus.ATTENDED, None),
            ("tiago.guest@bookwise.local", 1, BookingStatus.ATTENDED, None),
            ("sofia.guest@bookwise.local", 1, BookingStatus.ATTENDED, None),
        )),
        PastSlot("The Alchemist's Cellar", 10, "14:00", (
            ("sofia.guest@bookwise.local", 3, BookingStatus.ATTENDED, None),
        )),
        PastSlot("The Alchemist's Cellar", 3, "18:30", (
            (CUSTOMER_EMAIL, 2, BookingStatus.ATTENDED, None),
            ("rui.guest@bookwise.local", 4, BookingStatus.ATTENDED, (5, "Escaped with two minutes left. Brilliant.")),
        )),
        PastSlot("Alfama Night Walk", 2, "20:00", (
            (CUSTOMER_EMAIL, 1, BookingStatus.ATTENDED, (4, "Lovely walk, and the fado was a highlight.")),
            ("sofia.guest@bookwise.local", 2, BookingStatus.ATTENDED, (5, "Our guide knew every alley.")),
            ("tiago.guest@bookwise.local", 1, BookingStatus.NO_SHOW, None),
        )),
        PastSlot("Pastel de Nata Workshop", 1, "16:00", (
            (CUSTOMER_EMAIL, 2, "", None),
            ("tiago.guest@bookwise.local", 1, "", None),
            ("sofia.guest@bookwise.local", 1, BookingStatus.NO_SHOW, None),
        )),
    ),
    # Not onboarded: what these bookings earned is owed until the merchant sets up payouts.
    NYC_EMAIL: (
        PastSlot("Pizza Dough Masterclass", 4, "17:30", (
            ("tiago.guest@bookwise.local", 2, BookingStatus.ATTENDED, None),
            ("sofia.guest@bookwise.local", 1, BookingStatus.ATTENDED, None),
        )),
        PastSlot("Subway Heist", 2, "19:00", (
            ("rui.guest@bookwise.local", 4, BookingStatus.ATTENDED, None),
        )),
    ),
}  # fmt: skip


def _seed_history(*, now) -> dict[str, int]:
    for email, name in GUESTS:
        _user(email, name, Role.CUSTOMER)
    counts = {"past_slots": 0, "past_bookings": 0, "reviews": 0, "transfers": 0, "owed": 0}
    lisbon = Merchant.objects.get(owner__email__iexact=MERCHANT_EMAIL)
    # Onboarded a month ago, before any of its history.
    ConnectedAccount.objects.create(
        merchant=lisbon,
        stripe_account_id=DEMO_ACCOUNT_ID,
        status=ConnectedAccountStatus.ENABLED,
        charges_enabled=True,
        payouts_enabled=True,
        details_submitted=True,
        payouts_enabled_at=now - timedelta(days=SLOT_DAYS),
    )
    for owner_email, slots in PAST_SLOTS.items():
        merchant = Merchant.objects.get(owner__email__iexact=owner_email)
        for spec in slots:
            _seed_past_slot(merchant=merchant, spec=spec, now=now, counts=counts)
    return counts


def _seed_past_slot(*, merchant: Merchant, spec: PastSlot, now, counts: dict[str, int]) -> None:
    tz = merchant.tzinfo
    theme = Theme.objects.get(merchant=merchant, title=spec.theme)
    today = now.astimezone(tz).date()
    local_start = timezone.make_aware(
        datetime.combine(today - timedelta(days=spec.days_ago), time.fromisoformat(spec.local_time)), tz
    )
    starts_at = local_start.astimezone(UTC)
    opened_at, booked_at, marked_at = starts_at - timedelta(days=2), starts_at - timedelta(days=1), starts_at
    slot = slot_create(theme=theme, starts_at=starts_at, capacity=max(theme.max_party * 2, 6), now=opened_at)
    counts["past_slots"] += 1
    for email, party, outcome, review in spec.guests:
        customer = User.objects.get(email__iexact=email)
        booking = booking_join(slot_id=slot.pk, customer=customer, party_size=party, now=booked_at)
        if booking.status == BookingStatus.PENDING_PAYMENT:
            booking_confirm_payment(booking_id=booking.pk, now=booked_at + timedelta(minutes=2))
            payment = _paid(
                booking=booking, at=booked_at + timedelta(minutes=2), with_charge=merchant.owner.email != NYC_EMAIL
            )
            if _transfer_if_due(payment=payment, ends_at=slot.ends_at, now=now):
                counts["transfers"] += 1
            else:
                counts["owed"] += 1
        counts["past_bookings"] += 1
        if outcome:
            booking_mark_attendance(
                booking_id=booking.pk, status=outcome, by=merchant.owner, now=marked_at + timedelta(minutes=10)
            )
        if review:
            rating, comment = review
            review_create(author=customer, theme=theme, rating=rating, comment=comment)
            counts["reviews"] += 1


def _paid(*, booking, at, with_charge: bool) -> Payment:
    """The booking's Payment as a succeeded PaymentIntent leaves it, and its charge and fee in the ledger."""
    payment = Payment.objects.create(
        booking=booking,
        stripe_payment_intent_id=f"pi_demo_{booking.pk}",
        stripe_charge_id=f"ch_demo_{booking.pk}" if with_charge else "",
        amount=booking.amount,
        currency=booking.currency,
        status=PaymentStatus.SUCCEEDED,
        idempotency_key=f"booking-{booking.pk}-intent",
        succeeded_at=at,
    )
    ledger_record_charge(payment=payment, now=at)
    return payment


def _transfer_if_due(*, payment: Payment, ends_at, now) -> bool:
    """What the transfer sweep would have done by `now`: transfer the booking's net if its merchant is onboarded
    and its slot ended PAYOUT_DELAY_HOURS ago (the sweep's first run after that, within a quarter of an hour).
    """
    merchant_id = payment.booking.slot.theme.merchant_id
    account = ConnectedAccount.objects.filter(merchant_id=merchant_id, payouts_enabled=True).first()
    sent_at = ends_at + timedelta(hours=settings.PAYOUT_DELAY_HOURS, minutes=15)
    if account is None or sent_at > now:
        return False
    booking = payment.booking
    transfer = Transfer.objects.create(
        booking=booking,
        merchant_id=merchant_id,
        account=account,
        amount=booking_net(booking_id=booking.pk),
        currency=payment.currency,
        status=TransferStatus.PAID,
        stripe_transfer_id=f"tr_demo_{booking.pk}",
        idempotency_key=transfer_idempotency_key(booking.pk),
        attempts=1,
        transferred_at=sent_at,
    )
    ledger_record_transfer(transfer=transfer, now=sent_at)
    return True


# --- A full slot with a waitlist (bookings.waitlist) ----------------------------------------------
# The Alchemist's Cellar in two days at 18:30 is sold out (two paid groups); the demo customer and a
# guest wait for a place. Cancel one of the paid bookings (as its guest, the merchant or an admin) and
# the freed seats are offered to the queue at once: see the email in the console and "My bookings".
WAITLIST_SLOT = ("The Alchemist's Cellar", 2, "18:30")
WAITLIST_BOOKED = (("rui.guest@bookwise.local", 4), ("sofia.guest@bookwise.local", 2))
WAITLIST_WAITING = ((CUSTOMER_EMAIL, 2), ("tiago.guest@bookwise.local", 3))


def _seed_waitlist(*, now) -> None:
    merchant = Merchant.objects.get(owner__email__iexact=MERCHANT_EMAIL)
    title, days_ahead, local_time = WAITLIST_SLOT
    theme = Theme.objects.get(merchant=merchant, title=title)
    day = now.astimezone(merchant.tzinfo).date() + timedelta(days=days_ahead)
    starts_at = timezone.make_aware(datetime.combine(day, time.fromisoformat(local_time)), merchant.tzinfo)
    slot = theme.slots.get(starts_at=starts_at)
    booked_at = now - timedelta(hours=1)
    for email, party in WAITLIST_BOOKED:
        booking = booking_join(
            slot_id=slot.pk, customer=User.objects.get(email__iexact=email), party_size=party, now=booked_at
        )
        booking_confirm_payment(booking_id=booking.pk, now=booked_at + timedelta(minutes=2))
        _paid(booking=booking, at=booked_at + timedelta(minutes=2), with_charge=True)
    for minutes, (email, party) in enumerate(WAITLIST_WAITING):
        waitlist_join(
            slot_id=slot.pk,
            customer=User.objects.get(email__iexact=email),
            party_size=party,
            now=booked_at + timedelta(minutes=10 + minutes),
        )
