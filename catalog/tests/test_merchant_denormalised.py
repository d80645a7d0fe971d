"""Theme.merchant_city_upper / merchant_approved: the database keeps the merchant's copies in step.

The catalog filters and orders on these copies (catalog/migrations/0007_theme_merchant_denormalised.py,
docs/PERFORMANCE.md "catalog tail"); these tests hold the triggers to every way a merchant or a
theme is written, and the catalog's answers to what the join to merchants gave before.
"""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.tests.factories import AdminFactory
from bookings.catalog_selectors import theme_list_filtered
from catalog.models import Theme
from catalog.selectors import ThemeFilters
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.models import MerchantStatus
from merchants.services import merchant_approve, merchant_mark_suspended
from merchants.tests.factories import MerchantFactory, PendingMerchantFactory

pytestmark = pytest.mark.django_db


def copies(theme: Theme) -> tuple[str, bool]:
    row = Theme.objects.filter(pk=theme.pk).values_list("merchant_city_upper", "merchant_approved").get()
    return row[0], row[1]


def test_a_new_theme_takes_its_merchants_city_and_approval():
    theme = ThemeFactory(merchant__city="Porto")
    pending = ThemeFactory(merchant=PendingMerchantFactory(city="Lisbon"))

    assert copies(theme) == ("PORTO", True)
    assert copies(pending) == ("LISBON", False)
    # Returned by the INSERT itself: the instance in hand agrees with the row.
    assert (theme.merchant_city_upper, theme.merchant_approved) == ("PORTO", True)


def test_the_copies_follow_a_merchants_city_change():
    theme = ThemeFactory(merchant__city="Porto")
    merchant = theme.merchant
    merchant.city = "Coimbra"
    merchant.save()

    assert copies(theme) == ("COIMBRA", True)


def test_the_copies_follow_suspension_and_reapproval_through_the_services():
    theme = ThemeFactory()
    admin = AdminFactory()

    with transaction.atomic():
        merchant_mark_suspended(
            merchant=theme.merchant, by=admin, reason="Checks", keep_bookings=True, now=timezone.now()
        )
    assert copies(theme) == ("LISBON", False)

    merchant_approve(merchant=theme.merchant, by=admin)
    assert copies(theme) == ("LISBON", True)


def test_the_copies_follow_a_queryset_update_and_a_theme_moved_to_another_merchant():
    theme = ThemeFactory(merchant__city="Porto")
    type(theme.merchant).objects.filter(pk=theme.merchant_id).update(status=MerchantStatus.PENDING)
    assert copies(theme) == ("PORTO", False)

    other = MerchantFactory(city="Faro")
    Theme.objects.filter(pk=theme.pk).update(merchant=other)
    assert copies(theme) == ("FARO", True)


def test_a_value_written_by_the_application_is_ignored():
    theme = ThemeFactory(merchant=PendingMerchantFactory(city="Porto"))
    Theme.objects.filter(pk=theme.pk).update(merchant_approved=True, merchant_city_upper="ELSEWHERE")
    assert copies(theme) == ("PORTO", False)

    # A stale instance saved again does not bring back an old approval.
    stale = Theme.objects.get(pk=ThemeFactory(merchant__city="Porto").pk)
    type(stale.merchant).objects.filter(pk=stale.merchant_id).update(status=MerchantStatus.SUSPENDED)
    stale.title = "Renamed"
    stale.save()
    assert copies(stale) == ("PORTO", False)


def test_the_copies_are_exactly_postgresqls_upper_of_the_city():
    theme = ThemeFactory(merchant__city="Zürich straße")
    with connection.cursor() as cursor:
        cursor.execute("SELECT UPPER(%s)", ["Zürich straße"])
        expected = cursor.fetchone()[0]
    assert copies(theme)[0] == expected


def _listed_the_old_way(filters: ThemeFilters) -> list[int]:
    """The catalog as it was before the copies: the merchant's status and city read through the join."""
    qs = theme_list_filtered(filters=filters)
    old = Theme.objects.filter(is_active=True, merchant__status=MerchantStatus.APPROVED)
    if filters.city:
        old = old.filter(merchant__city__iexact=filters.city)
    return [t.pk for t in qs.filter(Q(pk__in=old.values("pk")))]


@pytest.mark.parametrize(
    "filters",
    [
        ThemeFilters(),
        ThemeFilters(city="porto"),
        ThemeFilters(city="LISBON", ordering="price"),
        ThemeFilters(city="Faro"),
        ThemeFilters(city="porto", available_from=timezone.now(), available_to=timezone.now() + timedelta(days=7)),
    ],
)
def test_the_catalog_lists_what_the_join_to_merchants_listed(filters):
    now = timezone.now()
    porto = [ThemeFactory(merchant__city=city, title=f"T{i}") for i, city in enumerate(["Porto", "porto", "PORTO"])]
    lisbon = ThemeFactory(merchant__city="Lisbon", title="L")
    ThemeFactory(merchant=PendingMerchantFactory(city="Porto"), title="pending")
    ThemeFactory(merchant__city="Porto", is_active=False, title="inactive")
    suspended = ThemeFactory(merchant__city="Faro", title="suspended")
    type(suspended.merchant).objects.filter(pk=suspended.merchant_id).update(status=MerchantStatus.SUSPENDED)
    for theme in [*porto, lisbon]:
        SlotFactory(theme=theme, starts_at=now + timedelta(days=2))

    listed = [t.pk for t in theme_list_filtered(filters=filters)]
    every_public_match = _listed_the_old_way(filters)

    assert listed == every_public_match
    assert suspended.pk not in listed


@pytest.mark.parametrize(
    ("ordering", "index"),
    [
        (None, "theme_listed_city_title_idx"),
        ("price", "theme_listed_city_price_idx"),
        ("-price", "theme_listed_city_price_idx"),
        ("-rating_avg", "theme_listed_city_rating_idx"),
    ],
)
def test_city_and_window_plan_reads_the_city_index_of_the_ordering(ordering, index):
    """EXPLAIN of the catalog's city + window shape: the city index of its ordering, no scan of all themes."""
    now = timezone.now()
    ThemeFactory(merchant__city="Porto")
    filters = ThemeFilters(city="porto", available_from=now, available_to=now + timedelta(days=7), ordering=ordering)
    qs = theme_list_filtered(filters=filters, now=now)[:21]
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        # A test database holds a handful of rows: without these the planner may sort them instead of
        # reading an index in order, which is what it does with thousands (docs: EXPLAIN at scale).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index in plan, plan
    assert "Seq Scan" not in plan, plan
