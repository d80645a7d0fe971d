"""The admin index summary: today's bookings and revenue, pending merchant applications."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AdminFactory, UserFactory
from bookings.models import Booking
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from merchants.tests.factories import PendingMerchantFactory
from payments.models import Payment, PaymentStatus
from payments.tests.factories import PaymentFactory
from portal.admin_dashboard import dashboard_summary, utc_day

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")
# Session and user, the summary's three queries, the money per month (one) and Django's recent actions.
INDEX_MAX_QUERIES = 7


def yesterday(now: datetime) -> datetime:
    return utc_day(now)[0] - timedelta(hours=1)


@pytest.fixture
def activity():
    """Today: 3 bookings created (2 confirmed) and 1 older booking confirmed; payments in two currencies."""
    now = timezone.now()
    BookingFactory()
    ConfirmedBookingFactory()
    ConfirmedBookingFactory()
    old = ConfirmedBookingFactory()
    Booking.objects.filter(pk=old.pk).update(created_at=yesterday(now))  # created yesterday, confirmed today
    stale = ConfirmedBookingFactory()
    Booking.objects.filter(pk=stale.pk).update(created_at=yesterday(now), confirmed_at=yesterday(now))

    def paid(amount, currency, status=PaymentStatus.SUCCEEDED, at=now):
        return PaymentFactory(amount=amount, currency=currency, status=status, succeeded_at=at)

    paid(5000, "usd")
    paid(2500, "usd")
    paid(1200, "eur")
    paid(9999, "usd", status=PaymentStatus.REFUNDED)  # refunded: not revenue
    paid(7777, "usd", status=PaymentStatus.REQUIRES_PAYMENT, at=None)  # not paid
    old_payment = paid(3333, "usd", at=yesterday(now))
    Payment.objects.filter(pk=old_payment.pk).update(updated_at=yesterday(now))
    PendingMerchantFactory.create_batch(2)
    return now


def test_dashboard_summary_counts_todays_utc_day_in_three_queries(activity, django_assert_num_queries):
    with django_assert_num_queries(3):
        summary = dashboard_summary(now=activity)

    # The payment factories made 6 more bookings today (pending holds, one per payment).
    assert summary.bookings_created == 3 + 6
    assert summary.bookings_confirmed == 3
    assert [(r.currency, r.amount, r.payments) for r in summary.revenue] == [("eur", 1200, 1), ("usd", 7500, 2)]
    assert summary.pending_merchants == 2
    assert summary.pending_merchants_url == reverse("admin:merchants_merchant_changelist") + "?status__exact=pending"


def test_today_is_the_utc_day():
    start, end = utc_day(datetime(2030, 3, 31, 1, 30, tzinfo=UTC))
    assert (start, end) == (datetime(2030, 3, 31, tzinfo=UTC), datetime(2030, 4, 1, tzinfo=UTC))
    from zoneinfo import ZoneInfo

    late_evening_in_la = datetime(2030, 3, 30, 20, 0, tzinfo=ZoneInfo("America/Los_Angeles"))  # 03:00 UTC on the 31st
    assert utc_day(late_evening_in_la)[0] == datetime(2030, 3, 31, tzinfo=UTC)


def test_admin_index_shows_the_summary_to_a_superuser_with_bounded_queries(
    client, activity, django_assert_max_num_queries
):
    client.force_login(AdminFactory())
    with django_assert_max_num_queries(INDEX_MAX_QUERIES):
        response = client.get(INDEX)

    assert response.status_code == 200
    page = response.content.decode()
    assert '<td id="summary-bookings-created">9</td>' in page
    assert '<td id="summary-bookings-confirmed">3</td>' in page
    assert "$75.00 (2 payments)" in page
    assert "€12.00 (1 payment)" in page
    pending_link = reverse("admin:merchants_merchant_changelist") + "?status__exact=pending"
    assert f'<a href="{pending_link}">2 to review</a>' in page
    # Django's own index is still there.
    assert 'id="content-main"' in page
    assert "Recent actions" in page

    changelist = client.get(pending_link)
    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count == 2


def test_admin_index_query_count_does_not_grow_with_the_data(client, activity, django_assert_max_num_queries):
    client.force_login(AdminFactory())
    client.get(INDEX)
    for _ in range(5):
        ConfirmedBookingFactory()
        PaymentFactory(status=PaymentStatus.SUCCEEDED, succeeded_at=timezone.now(), currency="gbp")
    PendingMerchantFactory.create_batch(3)

    with django_assert_max_num_queries(INDEX_MAX_QUERIES):
        page = client.get(INDEX).content.decode()
    assert "5 to review" in page


def test_empty_day_shows_zeroes(client):
    client.force_login(AdminFactory())
    page = client.get(INDEX).content.decode()
    assert '<td id="summary-bookings-created">0</td>' in page
    assert "None yet" in page
    assert "0 to review" in page


def test_staff_without_view_permissions_get_the_plain_index(client):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    response = client.get(INDEX)
    assert response.status_code == 200
    assert "bookwise-summary" not in response.content.decode()

    staff.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_booking", "view_payment", "view_merchant"],
            content_type__app_label__in=["bookings", "payments", "merchants"],
        )
    )
    client.force_login(UserFactory._meta.model.objects.get(pk=staff.pk))
    assert "bookwise-summary" in client.get(INDEX).content.decode()
