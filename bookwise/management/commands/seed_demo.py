"""Fill an empty database with demo data, once: accounts, merchants, themes, a month of slots.

Idempotent: a database that already holds the demo merchant is left alone.
The accounts share one public password, so the command refuses to run with
DEBUG off unless told that this is not production.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from bookwise.demo import ADMIN_EMAIL, CUSTOMER_EMAIL, DEMO_LOGINS, DEMO_PASSWORD, MERCHANT_EMAIL
from catalog.services import slot_bulk_create, theme_create
from merchants.models import Merchant
from merchants.services import merchant_apply, merchant_approve

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
                    f"Seeded {counts['merchants']} merchants, {counts['themes']} themes, {counts['slots']} slots."
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
    return counts
