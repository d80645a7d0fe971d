"""The bookings admin's search runs on indexes: EXPLAIN of the very query its changelist builds.

Issue 16: "search bookings by customer name, email, theme title or id (with indexes that
keep it fast at full scale)". With `enable_seqscan = off` the planner takes an index
wherever one can answer; a `Seq Scan` left in the plan means a table no index serves, a
scan of the whole table at full scale.
"""

import pytest
from django.db import connection
from django.urls import reverse

from accounts.tests.factories import AdminFactory
from bookings.tests.factories import ConfirmedBookingFactory
from catalog.tests.factories import SlotFactory, ThemeFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:bookings_booking_changelist")


@pytest.fixture
def admin_web(client):
    client.force_login(AdminFactory())
    return client


@pytest.fixture
def booking():
    slot = SlotFactory(theme=ThemeFactory(title="Vault of Secrets"))
    return ConfirmedBookingFactory(slot=slot, customer__full_name="Ada Lovelace", customer__email="ada@example.com")


def changelist_plan(admin_web, term: str) -> tuple[list, str]:
    """The changelist's rows for `term`, and the plan of the query it ran for them (seq scans disabled)."""
    response = admin_web.get(CHANGELIST, {"q": term})
    assert response.status_code == 200
    changelist = response.context["cl"]
    sql, params = changelist.queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # SET LOCAL: the test's transaction ends with the test.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return list(changelist.result_list), plan


def test_theme_title_search_uses_the_theme_search_index_and_no_table_scan(admin_web, booking):
    rows, plan = changelist_plan(admin_web, "vault secr")

    assert rows == [booking]
    assert "theme_search_idx" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_customer_name_search_uses_the_full_name_index_and_no_table_scan(admin_web, booking):
    rows, plan = changelist_plan(admin_web, "ada love")

    assert rows == [booking]
    assert "user_full_name_search_idx" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_email_search_uses_the_case_insensitive_email_index_and_no_table_scan(admin_web, booking):
    rows, plan = changelist_plan(admin_web, "ADA@example.com")

    assert rows == [booking]
    assert "user_email_ci_unique" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_id_search_uses_the_primary_key(admin_web, booking):
    rows, plan = changelist_plan(admin_web, f"#{booking.pk}")

    assert rows == [booking]
    assert "bookings_booking_pkey" in plan, plan
    assert "Seq Scan" not in plan, plan
