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
`booking_confirm_payment` as a successful payment would, without a Stripe
payment: demo data never calls Stripe, so they have no refund to make.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from bookings.models import BookingStatus
from bookings.services import booking_confirm_payment, booking_join, booking_mark_attendance
from catalog.models import Theme
from catalog.services import slot_bulk_create, slot_create, theme_create
from merchants.models import Merchant
from merchants.services import merchant_apply, merchant_approve
from portal.demo import ADMIN_EMAIL, CUSTOMER_EMAIL, DEMO_LOGINS, DEMO_PASSWORD, MERCHANT_EMAIL
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
            DemoTheme(
                "Pastel de Nata Workshop",
                "A cooking class: laminated dough, custard and a very hot oven.",
                120, 4500, 1, 4, 10, ("10:30", "16:00"),
            ),
            DemoTheme(
                "Alfama Night Walk",
                "A free guided walk through the alleys of Alfama, with fado on the way.",
                90, 0, 1, 8, 20, ("20:00",),
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
                    f"and {counts['reviews']} reviews."
                )
            )
        self.stdout.write(f"Demo logins (password {DEMO_PASSWORD}):")
        for role, email in DEMO_LOGINS:
            self.stdout.write(f"  {role:<9} {email}")


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
        # From tomorrow in the merchant's own calendar, every day, at the theme's local times
        # (the schedule service converts them to UTC, daylight-saving changes included).
        first_day = now.astimezone(zoneinfo.ZoneInfo(demo.timezone)).date() + timedelta(days=1)
        for spec in demo.themes:
            theme = theme_create(
                merchant=merchant,
                title=spec.title,
                description=spec.description,
                duration_minutes=spec.duration_minutes,
                price=spec.price,
                currency=demo.currency,
                min_party=spec.min_party,
                max_party=spec.max_party,
            )
            counts["themes"] += 1
            created, _skipped = slot_bulk_create(
                theme=theme,
                start_date=first_day,
                end_date=first_day + timedelta(days=SLOT_DAYS - 1),
                weekdays=list(range(7)),
                times=[time.fromisoformat(hhmm) for hhmm in spec.local_times],
                capacity=spec.capacity,
                now=now,
            )
            counts["slots"] += created
    counts.update(_seed_history(now=now))
    return counts


# --- History at the demo merchant ------------------------------------------------------------
# Guests who come to the demo merchant's past slots (same public password). The demo customer is
# among them: she attended "The Alchemist's Cellar" (and may write its review) and the Alfama walk
# (already reviewed, so she may edit it); yesterday's class still waits for the merchant to mark it.
GUESTS = (
    ("rui.guest@bookwise.local", "Rui Rocha"),
    ("sofia.guest@bookwise.local", "Sofia Santos"),
    ("tiago.guest@bookwise.local", "Tiago Teixeira"),
)


@dataclass(frozen=True)
class PastSlot:
    theme: str
    days_ago: int
    local_time: str
    # (email, party size, "attended" / "no_show" / "" to leave for the merchant, review (rating, comment) or None)
    guests: tuple[tuple[str, int, str, tuple[int, str] | None], ...]


PAST_SLOTS = (
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
)  # fmt: skip


def _seed_history(*, now) -> dict[str, int]:
    merchant = Merchant.objects.get(owner__email__iexact=MERCHANT_EMAIL)
    tz = merchant.tzinfo
    for email, name in GUESTS:
        _user(email, name, Role.CUSTOMER)
    counts = {"past_slots": 0, "past_bookings": 0, "reviews": 0}
    today = now.astimezone(tz).date()
    for spec in PAST_SLOTS:
        theme = Theme.objects.get(merchant=merchant, title=spec.theme)
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
            counts["past_bookings"] += 1
            if outcome:
                booking_mark_attendance(
                    booking_id=booking.pk, status=outcome, by=merchant.owner, now=marked_at + timedelta(minutes=10)
                )
            if review:
                rating, comment = review
                review_create(author=customer, theme=theme, rating=rating, comment=comment)
                counts["reviews"] += 1
    return counts
