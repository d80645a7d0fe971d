"""The bookings admin: money as money, slots as people read them, search by name, email, title or id, links."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.urls import reverse

from accounts.tests.factories import AdminFactory
from bookings.models import Booking
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from bookwise.admin_tools import prefix_tsquery
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory
from payments.models import PaymentStatus
from payments.tests.factories import PaymentFactory, RefundFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:bookings_booking_changelist")


@pytest.fixture
def admin_web(client):
    client.force_login(AdminFactory())
    return client


@pytest.fixture
def booking():
    merchant = MerchantFactory(timezone="Europe/Berlin")
    theme = ThemeFactory(merchant=merchant, title="Vault of Secrets", price=4425, currency="eur")
    # 17:00 UTC on Saturday 5 December 2026 is 18:00 in Berlin.
    starts = datetime(2026, 12, 5, 17, 0, tzinfo=UTC)
    slot = SlotFactory(theme=theme, starts_at=starts, ends_at=starts.replace(hour=18))
    return ConfirmedBookingFactory(
        slot=slot, party_size=2, customer__full_name="Ada Lovelace", customer__email="ada@example.com"
    )


def test_slot_reads_as_theme_day_and_local_time():
    merchant = MerchantFactory(timezone="Europe/Berlin")
    starts = datetime(2026, 12, 5, 17, 0, tzinfo=UTC)
    slot = SlotFactory(
        theme=ThemeFactory(merchant=merchant, title="Vault of Secrets"),
        starts_at=starts,
        ends_at=starts.replace(hour=18),
    )

    assert str(slot) == "Vault of Secrets, Sat 5 Dec 18:00 Europe/Berlin"


def test_changelist_shows_money_and_the_slot_as_people_read_them(admin_web, booking):
    html = admin_web.get(CHANGELIST).content.decode()

    assert "€88.50" in html
    assert "Vault of Secrets, Sat 5 Dec 18:00 Europe/Berlin" in html
    assert "Ada Lovelace &lt;ada@example.com&gt;" in html


@pytest.mark.parametrize(
    "term",
    ["{pk}", "#{pk}", "ada@example.com", "ADA@example.com", "Ada", "lovelace", "ada love", "Vault", "vault secret"],
)
def test_search_finds_the_booking_by_name_email_title_or_id(admin_web, booking, term):
    BookingFactory(customer__full_name="Grace Hopper", slot=SlotFactory(theme=ThemeFactory(title="Pirate Cove")))

    response = admin_web.get(CHANGELIST, {"q": term.format(pk=booking.pk)})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [booking]


@pytest.mark.parametrize("term", ["Hopper", "pirate", "nobody@example.com", "zzz", "!!!", "a:* | b"])
def test_search_leaves_out_what_does_not_match(admin_web, booking, term):
    response = admin_web.get(CHANGELIST, {"q": term})

    assert response.status_code == 200
    assert booking not in response.context["cl"].result_list


def test_prefix_query_keeps_only_word_characters():
    assert prefix_tsquery("Ada  Love-lace") == "ada:* & love:* & lace:*"
    assert prefix_tsquery("'; DROP --") == "drop:*"
    assert prefix_tsquery("!!!") is None


def test_name_search_uses_the_full_name_index():
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        from bookwise.admin_tools import users_named

        sql, params = users_named("ada").query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "user_full_name_search_idx" in plan


def test_change_page_links_payment_refunds_and_shows_the_status_history(admin_web, booking):
    payment = PaymentFactory(booking=booking, status=PaymentStatus.SUCCEEDED)
    refund = RefundFactory(payment=payment)

    html = admin_web.get(reverse("admin:bookings_booking_change", args=[booking.pk])).content.decode()

    assert reverse("admin:payments_payment_change", args=[payment.pk]) in html
    assert reverse("admin:payments_refund_change", args=[refund.pk]) in html
    assert "€88.50" in html
    assert "Vault of Secrets, Sat 5 Dec 18:00 Europe/Berlin" in html
    assert "Booking status changes" in html or "status change" in html.lower()


def test_payment_and_refund_admin_show_money(admin_web, booking):
    payment = PaymentFactory(booking=booking, status=PaymentStatus.SUCCEEDED)
    RefundFactory(payment=payment)

    for name in ("payment", "refund"):
        html = admin_web.get(reverse(f"admin:payments_{name}_changelist")).content.decode()
        assert "€88.50" in html, name
    assert "€88.50" in admin_web.get(reverse("admin:payments_payment_change", args=[payment.pk])).content.decode()


def test_slot_and_theme_admin_show_slot_label_and_price(admin_web, booking):
    slots = admin_web.get(reverse("admin:catalog_slot_changelist")).content.decode()
    themes = admin_web.get(reverse("admin:catalog_theme_changelist")).content.decode()

    assert "Vault of Secrets, Sat 5 Dec 18:00 Europe/Berlin" in slots
    assert "€44.25" in themes


def test_a_search_with_many_rows_stays_one_query_per_page(admin_web, booking, django_assert_max_num_queries):
    for _ in range(5):
        ConfirmedBookingFactory(slot=booking.slot, customer__full_name="Ada Byron")
    with django_assert_max_num_queries(12):
        response = admin_web.get(CHANGELIST, {"q": "ada"})
    assert response.context["cl"].result_count == Booking.objects.count()
