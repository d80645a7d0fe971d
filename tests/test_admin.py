"""Every admin page a superuser can open renders; our changelists stay cheap at any size."""

import uuid

import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import RefreshTokenRecord
from accounts.tests.factories import AdminFactory, UserFactory
from bookings.models import Booking, BookingStatus, BookingStatusChange, PromoCode, WaitlistEntry
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from bookwise.admin_tools import EstimatedCountPaginator, estimated_row_count
from catalog.models import Slot, Theme
from catalog.tests.factories import SlotFactory
from merchants.models import Merchant
from merchants.tests.factories import PendingMerchantFactory
from payments.models import LedgerEntry, LedgerKind, Payment, Refund
from payments.tests.factories import (
    DisputeFactory,
    PaymentFactory,
    RefundFactory,
    SucceededPaymentFactory,
    TransferFactory,
)
from reviews.tests.factories import ReviewFactory

pytestmark = pytest.mark.django_db

OUR_APPS = {"accounts", "merchants", "catalog", "bookings", "reviews", "payments"}
REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
OUR_REGISTRY = [(model, model_admin) for model, model_admin in REGISTRY if model._meta.app_label in OUR_APPS]


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def populate() -> None:
    """At least one row of each of our models, so changelists render rows and change pages exist."""
    booking = ConfirmedBookingFactory()
    BookingStatusChange.objects.create(
        booking=booking, from_status=BookingStatus.PENDING_PAYMENT, to_status=BookingStatus.CONFIRMED, reason="paid"
    )
    RefundFactory(payment=PaymentFactory(booking=booking))
    ReviewFactory(theme=booking.slot.theme, author=booking.customer)
    PendingMerchantFactory()
    # Payouts: a paid booking with its ledger entry, its transfer (and the merchant's account), a dispute.
    paid = SucceededPaymentFactory()
    LedgerEntry.objects.create(
        merchant=paid.booking.slot.theme.merchant,
        booking=paid.booking,
        kind=LedgerKind.CHARGE,
        amount=paid.amount,
        currency=paid.currency,
        key=f"charge:payment:{paid.pk}",
    )
    TransferFactory(booking=paid.booking)
    DisputeFactory(payment=paid)
    RefreshTokenRecord.objects.create(
        jti=uuid.uuid4().hex, user=booking.customer, expires_at=timezone.now() + timezone.timedelta(days=1)
    )
    # A promo code, and the booking that used it (its admin page links the code).
    code = PromoCode.objects.create(merchant=booking.slot.theme.merchant, code=f"ADMIN{booking.pk}", percent_off=10)
    Booking.objects.filter(pk=booking.pk).update(promo_code=code, discount=10)
    # A waitlist entry, on the booking's slot (shown there inline too).
    WaitlistEntry.objects.create(slot=booking.slot, customer=UserFactory(), party_size=1)


@pytest.fixture
def superuser():
    return AdminFactory()


@pytest.fixture
def admin_client_web(client, superuser):
    client.force_login(superuser)
    return client


def test_every_admin_is_in_the_registry():
    """Guard against a silently missing admin module (the loop below would simply not see it)."""
    labels = {model._meta.label for model, _ in REGISTRY}
    assert {
        "merchants.Merchant",
        "catalog.Theme",
        "catalog.Slot",
        "bookings.Booking",
        "bookings.BookingStatusChange",
        "payments.Payment",
        "payments.Refund",
        "payments.ConnectedAccount",
        "payments.LedgerEntry",
        "payments.Transfer",
        "payments.Dispute",
        "djstripe.PaymentIntent",
        "djstripe.Event",
        "django_celery_beat.PeriodicTask",
    } <= labels


@pytest.mark.parametrize(("model", "model_admin"), REGISTRY, ids=[m._meta.label for m, _ in REGISTRY])
def test_changelist_and_add_page_answer_200(admin_client_web, superuser, model, model_admin):
    populate()

    response = admin_client_web.get(admin_url(model, "changelist"))
    assert response.status_code == 200, response.content[:2000]

    request = RequestFactory().get("/")
    request.user = superuser
    if model_admin.has_add_permission(request):
        response = admin_client_web.get(admin_url(model, "add"))
        assert response.status_code == 200, response.content[:2000]


@pytest.mark.parametrize(("model", "model_admin"), OUR_REGISTRY, ids=[m._meta.label for m, _ in OUR_REGISTRY])
def test_change_page_of_our_models_answers_200(admin_client_web, model, model_admin):
    populate()
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"populate() made no {model._meta.label}"

    response = admin_client_web.get(admin_url(model, "change", obj.pk))

    assert response.status_code == 200, response.content[:2000]


@pytest.mark.parametrize("model", [Merchant, Theme, Slot, Booking, BookingStatusChange, Payment, Refund])
def test_changelist_query_count_does_not_grow_with_rows(admin_client_web, model):
    populate()
    url = admin_url(model, "changelist")
    admin_client_web.get(url)  # warm up: content types, session
    with CaptureQueriesContext(connection) as few:
        admin_client_web.get(url)

    for _ in range(4):
        populate()
    with CaptureQueriesContext(connection) as many:
        response = admin_client_web.get(url)

    assert response.status_code == 200
    assert model._default_manager.count() >= 5
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


@pytest.mark.parametrize("model", [Slot, Booking, Payment])
def test_changelists_over_huge_tables_do_not_count_twice(admin_client_web, model):
    populate()
    with CaptureQueriesContext(connection) as queries:
        admin_client_web.get(admin_url(model, "changelist"), {"status__exact": "confirmed"})
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    # Only the filtered count: show_full_result_count = False skips the count of the whole table.
    assert len(counts) == 1, counts


def test_estimated_count_paginator_uses_the_planner_estimate_only_unfiltered():
    BookingFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Booking._meta.db_table}")
    assert estimated_row_count(Booking.objects.all()) == 3

    class EverythingIsHuge(EstimatedCountPaginator):
        exact_below = 0

    with CaptureQueriesContext(connection) as queries:
        assert EverythingIsHuge(Booking.objects.order_by("pk"), 10).count == 3
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)

    # Filtered: always exact.
    assert EverythingIsHuge(Booking.objects.filter(party_size=99).order_by("pk"), 10).count == 0
    # Small tables: exact.
    assert EstimatedCountPaginator(Booking.objects.order_by("pk"), 10).count == 3


@pytest.mark.parametrize(
    ("term", "expected"),
    [("{pk}", 1), ("#{pk}", 1), ("{email}", 1), ("{email_upper}", 1), ("nobody@example.com", 0), ("rubbish", 0)],
)
def test_booking_search_by_id_or_exact_email(admin_client_web, term, expected):
    booking = BookingFactory()
    BookingFactory()
    term = term.format(pk=booking.pk, email=booking.customer.email, email_upper=booking.customer.email.upper())

    response = admin_client_web.get(admin_url(Booking, "changelist"), {"q": term})

    assert response.status_code == 200
    assert response.context["cl"].result_count == expected


@pytest.mark.parametrize("term", ["99999999999999999999999999", "'; DROP TABLE x; --", "１２３"])
def test_search_never_fails_on_odd_input(admin_client_web, term):
    populate()
    for model in (Slot, Booking, BookingStatusChange, Payment, Refund):
        response = admin_client_web.get(admin_url(model, "changelist"), {"q": term})
        assert response.status_code == 200, model


def test_payment_search_by_intent_id_booking_id_or_email(admin_client_web):
    payment = PaymentFactory()
    PaymentFactory()
    url = admin_url(Payment, "changelist")

    for term in (payment.stripe_payment_intent_id, str(payment.booking_id), payment.booking.customer.email):
        response = admin_client_web.get(url, {"q": term})
        assert list(response.context["cl"].result_list) == [payment], term


def test_payment_change_page_never_shows_the_client_secret(admin_client_web):
    payment = PaymentFactory()
    response = admin_client_web.get(admin_url(Payment, "change", payment.pk))
    assert payment.client_secret.encode() not in response.content


def test_slot_search_by_slot_or_theme_id(admin_client_web):
    slot = SlotFactory()
    SlotFactory()
    url = admin_url(Slot, "changelist")

    assert list(admin_client_web.get(url, {"q": str(slot.pk)}).context["cl"].result_list) == [slot]
    assert list(admin_client_web.get(url, {"q": str(slot.theme_id)}).context["cl"].result_list) == [slot]


@pytest.mark.parametrize("model", [Booking, Payment, Refund, BookingStatusChange])
def test_service_owned_rows_cannot_be_added_or_deleted_in_admin(admin_client_web, superuser, model):
    populate()
    obj = model._default_manager.first()

    assert admin_client_web.get(admin_url(model, "add")).status_code == 403
    assert admin_client_web.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model._default_manager.filter(pk=obj.pk).exists()


@pytest.mark.parametrize("factory_", [BookingFactory, PaymentFactory])
def test_booking_and_payment_change_pages_are_view_only(admin_client_web, factory_):
    """Saving a form would rewrite every column without the services' row lock."""
    obj = factory_()
    model = type(obj)
    before = model.objects.values().get(pk=obj.pk)
    url = admin_url(model, "change", obj.pk)

    page = admin_client_web.get(url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content

    response = admin_client_web.post(url, {"party_size": 5, "status": "confirmed", "amount": 1, "currency": "eur"})

    assert response.status_code == 403
    assert model.objects.values().get(pk=obj.pk) == before


@pytest.mark.parametrize("model", [Booking, Payment])
def test_booking_and_payment_changelists_keep_the_change_permission_for_future_actions(superuser, model):
    populate()
    request = RequestFactory().get("/")
    request.user = superuser
    model_admin = admin.site._registry[model]

    assert model_admin.has_change_permission(request)
    assert not model_admin.has_change_permission(request, model._default_manager.first())
