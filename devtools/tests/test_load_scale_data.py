"""A small run of `load_scale_data`: the generated rows obey every domain rule, and every index and
constraint of the models is back in place afterwards (the command drops them for the COPY).

The tests run with DEBUG off, where the `devtools` app is not installed: they call the command object."""

from __future__ import annotations

import io
import zoneinfo
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, models

from accounts.models import Role, User
from bookings.models import Booking
from catalog.models import Slot, Theme
from devtools.management.commands.load_scale_data import Command as LoadScaleData
from devtools.scale.ddl import catalog_snapshot
from devtools.scale.generator import DOMAIN
from devtools.scale.loader import LOADED_MODELS
from merchants.models import Merchant, MerchantStatus
from reviews.models import Review

pytestmark = pytest.mark.django_db(transaction=True)

SIZES = {"users": 300, "merchants": 10, "themes": 30, "slots": 600, "bookings": 2000, "reviews": 200}
TABLES = [m._meta.db_table for m in LOADED_MODELS]
HOLDING = "b.status IN ('confirmed', 'attended', 'no_show') OR (b.status = 'pending_payment' AND b.expires_at > now())"


def load(**options) -> str:
    out = io.StringIO()
    call_command(LoadScaleData(), not_production=True, stdout=out, **{**SIZES, **options})
    return out.getvalue()


def count(sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def test_small_load_has_the_requested_counts_and_obeys_the_domain_rules():
    output = load()

    assert "loaded in" in output
    assert User.objects.count() == SIZES["users"]
    assert Merchant.objects.count() == SIZES["merchants"]
    assert Theme.objects.count() == SIZES["themes"]
    assert Slot.objects.count() == SIZES["slots"]
    assert Booking.objects.count() == SIZES["bookings"]
    assert Review.objects.count() == SIZES["reviews"]

    # Users: unique lowercase emails in the generated domain; one shared, working password.
    assert not User.objects.exclude(email__endswith=f"@{DOMAIN}").exists()
    assert count("SELECT count(*) FROM accounts_user WHERE email <> lower(email)") == 0
    admin = User.objects.get(email=f"admin@{DOMAIN}")
    assert admin.is_superuser
    assert admin.check_password("bookwise-scale")

    # Merchants: distinct owners with role merchant, valid IANA timezones; pending ones have no themes.
    owners = list(Merchant.objects.values_list("owner__role", flat=True))
    assert set(owners) == {Role.MERCHANT}
    assert len(owners) == SIZES["merchants"]
    assert {tz for tz in Merchant.objects.values_list("timezone", flat=True)} <= zoneinfo.available_timezones()
    assert not Theme.objects.filter(merchant__status=MerchantStatus.PENDING).exists()
    assert Merchant.objects.filter(status=MerchantStatus.APPROVED).exists()

    # Themes and slots.
    assert not Theme.objects.filter(min_party__gt=models.F("max_party")).exists()
    assert Theme.objects.filter(price=0).exists()
    assert Theme.objects.filter(price__gt=0).exists()
    assert count("SELECT count(*) FROM catalog_slot WHERE capacity NOT BETWEEN 2 AND 12") == 0
    assert (
        count(
            "SELECT count(*) FROM catalog_slot s JOIN catalog_theme t ON t.id = s.theme_id "
            "WHERE s.ends_at <> s.starts_at + make_interval(mins => t.duration_minutes)"
        )
        == 0
    )
    assert Slot.objects.filter(status="cancelled").exists()
    assert count("SELECT count(*) FROM catalog_slot WHERE starts_at < now() - interval '170 days'") > 0
    assert count("SELECT count(*) FROM catalog_slot WHERE starts_at > now() + interval '80 days'") > 0
    overlapping = count(
        """
        SELECT count(*) FROM catalog_slot a JOIN catalog_slot b
            ON a.theme_id = b.theme_id AND a.id < b.id
           AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)
         WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'
        """
    )
    assert overlapping == 0

    # No slot over capacity (seats held now, read-time rule for unpaid holds).
    over = count(
        f"""
        SELECT count(*) FROM (
            SELECT s.id FROM catalog_slot s JOIN bookings_booking b ON b.slot_id = s.id
             WHERE {HOLDING} GROUP BY s.id, s.capacity HAVING sum(b.party_size) > s.capacity) x
        """
    )
    assert over == 0
    assert (
        count(
            "SELECT count(*) FROM (SELECT 1 FROM bookings_booking b WHERE "
            "b.status IN ('pending_payment', 'confirmed', 'attended', 'no_show') "
            "GROUP BY b.customer_id, b.slot_id HAVING count(*) > 1) x"
        )
        == 0
    )

    # Amounts, currencies and party sizes come from the theme.
    mismatched = count(
        """
        SELECT count(*) FROM bookings_booking b JOIN catalog_slot s ON s.id = b.slot_id
          JOIN catalog_theme t ON t.id = s.theme_id
         WHERE b.amount <> t.price * b.party_size OR b.currency <> t.currency
            OR b.party_size NOT BETWEEN t.min_party AND t.max_party
        """
    )
    assert mismatched == 0

    # Statuses are consistent with time.
    inconsistent = count(
        """
        SELECT count(*) FROM bookings_booking b JOIN catalog_slot s ON s.id = b.slot_id
         WHERE (s.starts_at <= now() AND b.status IN ('confirmed', 'pending_payment'))
            OR (s.starts_at > now() AND b.status IN ('attended', 'no_show'))
            OR (s.status = 'cancelled' AND b.status <> 'cancelled')
            OR b.created_at > b.updated_at OR b.created_at > now()
            OR (b.status IN ('confirmed', 'attended', 'no_show')
                AND (b.expires_at IS NOT NULL OR b.confirmed_at IS NULL))
            OR (b.status = 'expired' AND (b.expires_at IS NULL OR b.expires_at > now()))
            OR (b.status = 'cancelled' AND b.cancelled_at IS NULL)
        """
    )
    assert inconsistent == 0
    statuses = set(Booking.objects.values_list("status", flat=True).distinct())
    assert {"attended", "no_show", "cancelled", "expired", "confirmed"} <= statuses

    # Unpaid holds: an expiry one hold-length after creation, in the future for live holds, and
    # never more live holds per customer than the service allows.
    hold = timedelta(minutes=settings.BOOKING_HOLD_MINUTES)
    pending = list(Booking.objects.filter(status="pending_payment").values_list("created_at", "expires_at"))
    assert all(expires == created + hold for created, expires in pending)
    most_holds = count(
        "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM bookings_booking "
        "WHERE status = 'pending_payment' AND expires_at > now() GROUP BY customer_id) x"
    )
    assert most_holds <= settings.BOOKING_MAX_UNPAID_HOLDS

    # Reviews: only from attendees of the theme; ratings counted consistently on the themes.
    assert (
        count(
            """
            SELECT count(*) FROM reviews_review r WHERE NOT EXISTS (
                SELECT 1 FROM bookings_booking b JOIN catalog_slot s ON s.id = b.slot_id
                 WHERE b.customer_id = r.author_id AND s.theme_id = r.theme_id AND b.status = 'attended')
            """
        )
        == 0
    )
    assert count("SELECT count(*) FROM reviews_review WHERE rating NOT BETWEEN 1 AND 5") == 0
    assert (
        count(
            """
            SELECT count(*) FROM catalog_theme t LEFT JOIN (
                SELECT theme_id, round(avg(rating), 2) AS avg, count(*) AS n
                  FROM reviews_review WHERE NOT is_hidden GROUP BY theme_id) a ON a.theme_id = t.id
             WHERE t.rating_avg <> coalesce(a.avg, 0) OR t.review_count <> coalesce(a.n, 0)
            """
        )
        == 0
    )
    assert Theme.objects.filter(review_count__gt=0).exists()

    # Payments follow their bookings.
    assert (
        count(
            "SELECT count(*) FROM payments_payment p JOIN bookings_booking b ON b.id = p.booking_id "
            "WHERE p.amount <> b.amount OR b.amount = 0 "
            "OR (p.status = 'succeeded') <> (b.status IN ('confirmed', 'attended', 'no_show'))"
        )
        == 0
    )


def test_every_index_and_constraint_is_back_and_sequences_are_past_the_loaded_ids():
    with connection.cursor() as cursor:
        before = catalog_snapshot(cursor, TABLES)

    load()

    with connection.cursor() as cursor:
        after = catalog_snapshot(cursor, TABLES)
        assert after == before  # same names, same definitions
        names = {name for _kind, _table, name, _definition in after}
        for model in LOADED_MODELS:
            for item in [*model._meta.indexes, *model._meta.constraints]:
                assert item.name in names, f"{model.__name__}: {item.name} missing after the load"
            assert not cursor.execute(
                "SELECT obj_description(%s::regclass, 'pg_class')", [model._meta.db_table]
            ).fetchone()[0]
            table = model._meta.db_table
            cursor.execute(
                f"SELECT nextval(pg_get_serial_sequence(%s, 'id')) > (SELECT coalesce(max(id), 0) FROM {table})",
                [table],
            )
            assert cursor.fetchone()[0], f"{model.__name__}: sequence not advanced"
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE NOT convalidated AND conrelid = ANY(%s::regclass[])", [TABLES]
        )
        assert cursor.fetchone()[0] == 0

    # The constraints work: a second booking holding seats for the same customer and slot is refused.
    booking = Booking.objects.filter(status="confirmed").first()
    with pytest.raises(Exception, match="booking_one_active_per_customer_slot"):
        Booking.objects.create(
            slot_id=booking.slot_id,
            customer_id=booking.customer_id,
            party_size=1,
            status="confirmed",
            amount=0,
            currency=booking.currency,
        )


def test_refuses_a_database_with_users_it_did_not_generate_unless_forced():
    User.objects.create_user(email="someone@example.com", password="x")

    with pytest.raises(CommandError, match="did not generate"):
        load()
    assert User.objects.filter(email="someone@example.com").exists()

    output = load(force=True)

    assert "--force" in output
    assert not User.objects.filter(email="someone@example.com").exists()
    assert Booking.objects.count() == SIZES["bookings"]


def test_refuses_to_run_with_debug_off_unless_told_it_is_not_production():
    with pytest.raises(CommandError, match="public password"):
        call_command(LoadScaleData(), stdout=io.StringIO(), **SIZES)
