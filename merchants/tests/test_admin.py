"""The Django admin's Approve/Suspend actions and pages go through the merchant services."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from accounts.tests.factories import AdminFactory
from bookings.models import Booking, BookingStatus
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from bookwise.models import OutboxMessage
from catalog.tests.factories import SlotFactory, ThemeFactory
from checkout import tasks as checkout_tasks
from merchants.models import Merchant, MerchantStatus
from merchants.tests.factories import MerchantFactory, PendingMerchantFactory
from payments.models import PaymentStatus, Refund
from payments.tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:merchants_merchant_changelist")


@pytest.fixture
def admin_web(client):
    client.force_login(AdminFactory())
    return client


def run_action(client, action: str, merchants):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [m.pk for m in merchants], "index": 0},
        follow=True,
    )


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_approve_action_approves_pending_merchants_and_promotes_their_owners(admin_web):
    pending = PendingMerchantFactory.create_batch(2)

    response = run_action(admin_web, "approve_selected", pending)

    assert response.status_code == 200
    for merchant in pending:
        merchant.refresh_from_db()
        merchant.owner.refresh_from_db()
        assert merchant.status == MerchantStatus.APPROVED
        assert merchant.approved_at is not None
        assert merchant.owner.role == Role.MERCHANT
    assert "Approved 2 merchant(s)." in texts(response)


SUSPEND_URL = reverse("admin:merchants_merchant_suspend")


@pytest.fixture
def shop():
    """An approved merchant in Berlin with an upcoming paid booking, an unpaid hold, and one past booking."""
    merchant = MerchantFactory(name="Lockbox Berlin", timezone="Europe/Berlin")
    theme = ThemeFactory(merchant=merchant, title="The Vault", price=4425, currency="eur")
    slot = SlotFactory(theme=theme)
    paid = ConfirmedBookingFactory(slot=slot, party_size=2, customer__full_name="Ada Lovelace")
    PaymentFactory(booking=paid, status=PaymentStatus.SUCCEEDED)
    hold = BookingFactory(slot=SlotFactory(theme=theme), customer__full_name="Alan Turing")
    started = timezone.now() - timedelta(hours=2)
    past = ConfirmedBookingFactory(
        slot=SlotFactory(theme=theme, starts_at=started, ends_at=started + timedelta(hours=1))
    )
    return {"merchant": merchant, "paid": paid, "hold": hold, "past": past}


def test_suspend_action_suspends_nothing_and_opens_the_intermediate_page(admin_web):
    approved = MerchantFactory()
    pending = PendingMerchantFactory()

    response = admin_web.post(
        CHANGELIST, {"action": "suspend_selected", "_selected_action": [approved.pk, pending.pk], "index": 0}
    )

    assert response.status_code == 302
    assert response["Location"] == f"{SUSPEND_URL}?ids={min(approved.pk, pending.pk)},{max(approved.pk, pending.pk)}"
    assert Merchant.objects.get(pk=approved.pk).status == MerchantStatus.APPROVED
    page = admin_web.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert approved.name in html
    assert "only an approved merchant can be suspended" in html


def test_suspend_page_lists_the_upcoming_bookings_it_affects(admin_web, shop):
    page = admin_web.get(SUSPEND_URL, {"ids": shop["merchant"].pk})

    assert page.status_code == 200
    html = page.content.decode()
    assert "2 upcoming active bookings affected, worth €132.75." in html  # 2 x 44.25 + 1 x 44.25
    assert "Ada Lovelace" in html
    assert "Alan Turing" in html
    assert "€88.50" in html
    assert f"#{shop['past'].pk}<" not in html  # started already: not affected
    assert str(shop["paid"].slot) in html
    assert 'name="reason"' in html
    assert 'value="keep"' in html
    assert 'value="cancel"' in html


def test_suspend_without_a_reason_is_a_form_error_and_changes_nothing(admin_web, shop, mailoutbox):
    response = admin_web.post(SUSPEND_URL, {"ids": shop["merchant"].pk, "reason": "  ", "bookings": "cancel"})

    assert response.status_code == 400
    assert response.context["form"].errors["reason"]
    assert Merchant.objects.get(pk=shop["merchant"].pk).status == MerchantStatus.APPROVED
    assert Booking.objects.get(pk=shop["paid"].pk).status == BookingStatus.CONFIRMED
    assert not OutboxMessage.objects.exists()
    assert mailoutbox == []


def test_suspend_keeping_the_bookings(admin_web, shop, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_web.post(
            SUSPEND_URL, {"ids": shop["merchant"].pk, "reason": "Fire safety check pending.", "bookings": "keep"}
        )

    assert response.status_code == 302
    merchant = Merchant.objects.get(pk=shop["merchant"].pk)
    assert merchant.status == MerchantStatus.SUSPENDED
    assert merchant.suspension_reason == "Fire safety check pending."
    assert merchant.suspension_keeps_bookings is True
    assert merchant.suspended_at is not None
    assert Booking.objects.get(pk=shop["paid"].pk).status == BookingStatus.CONFIRMED
    assert not Refund.objects.exists()
    assert [m.to for m in mailoutbox] == [[merchant.owner.email]]
    assert "Fire safety check pending." in mailoutbox[0].body


def test_suspend_cancelling_the_bookings_refunds_and_tells_everyone(
    admin_web, shop, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response = admin_web.post(
            SUSPEND_URL, {"ids": shop["merchant"].pk, "reason": "Fraud reports.", "bookings": "cancel"}
        )
    assert response.status_code == 302

    merchant = Merchant.objects.get(pk=shop["merchant"].pk)
    assert (merchant.status, merchant.suspension_keeps_bookings) == (MerchantStatus.SUSPENDED, False)
    assert Booking.objects.get(pk=shop["paid"].pk).status == BookingStatus.CANCELLED
    assert Booking.objects.get(pk=shop["hold"].pk).status == BookingStatus.CANCELLED
    assert Booking.objects.get(pk=shop["past"].pk).status == BookingStatus.CONFIRMED
    refund = Refund.objects.get()
    assert (refund.payment.booking_id, refund.amount, refund.reason) == (shop["paid"].pk, 8850, "merchant_cancel")
    queued = sorted((m.task_name, m.args[0]) for m in OutboxMessage.objects.all())
    assert queued == sorted(
        [
            ("payments.tasks.process_refund", refund.pk),
            ("checkout.tasks.send_booking_cancelled", shop["paid"].pk),
            ("checkout.tasks.send_booking_cancelled", shop["hold"].pk),
            ("merchants.tasks.send_merchant_suspended", merchant.pk),
        ]
    )
    messages = texts(admin_web.get(reverse("admin:merchants_merchant_change", args=[merchant.pk])))
    assert any("2 booking(s) cancelled, 1 refunded" in m for m in messages)

    # The customers' emails say why.
    checkout_tasks.send_booking_cancelled.delay(shop["paid"].pk)
    (email,) = [m for m in mailoutbox if m.to == [shop["paid"].customer.email]]
    assert "The merchant was suspended" in email.body


def test_change_page_has_approve_or_suspend_buttons(admin_web):
    approved = MerchantFactory()
    pending = PendingMerchantFactory()

    approved_html = admin_web.get(reverse("admin:merchants_merchant_change", args=[approved.pk])).content.decode()
    pending_html = admin_web.get(reverse("admin:merchants_merchant_change", args=[pending.pk])).content.decode()

    assert f'href="{SUSPEND_URL}?ids={approved.pk}"' in approved_html
    assert "merchant-approve-link" not in approved_html
    approve_url = reverse("admin:merchants_merchant_approve", args=[pending.pk])
    assert f'href="{approve_url}"' in pending_html
    assert "merchant-suspend-link" not in pending_html


def test_approve_page_approves_on_post_only(admin_web, django_capture_on_commit_callbacks, mailoutbox):
    pending = PendingMerchantFactory()
    url = reverse("admin:merchants_merchant_approve", args=[pending.pk])

    assert admin_web.get(url).status_code == 200
    assert Merchant.objects.get(pk=pending.pk).status == MerchantStatus.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_web.post(url).status_code == 302

    assert Merchant.objects.get(pk=pending.pk).status == MerchantStatus.APPROVED
    assert len(mailoutbox) == 1


def test_re_approving_in_the_admin_sends_no_second_welcome(
    admin_web, shop, django_capture_on_commit_callbacks, mailoutbox
):
    merchant = shop["merchant"]
    admin_web.post(SUSPEND_URL, {"ids": merchant.pk, "reason": "Checks.", "bookings": "keep"})
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        admin_web.post(reverse("admin:merchants_merchant_approve", args=[merchant.pk]))

    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.APPROVED
    assert (merchant.suspension_reason, merchant.suspended_at) == ("", None)
    assert [c for c in callbacks if getattr(c, "__name__", "") != "forget_user_cache_entry"] == []
    assert mailoutbox == []


def test_changelist_lists_every_status_with_filters_and_search(admin_web):
    approved = MerchantFactory(name="Lockbox Lisbon")
    PendingMerchantFactory(name="Puzzle Porto", city="Porto")

    everything = admin_web.get(CHANGELIST)
    assert everything.context["cl"].result_count == 2

    pending_only = admin_web.get(CHANGELIST, {"status__exact": "pending"})
    assert [m.name for m in pending_only.context["cl"].result_list] == ["Puzzle Porto"]

    by_owner = admin_web.get(CHANGELIST, {"q": approved.owner.email})
    assert list(by_owner.context["cl"].result_list) == [approved]


def test_status_cannot_be_edited_in_the_change_form(admin_web):
    pending = PendingMerchantFactory()
    url = reverse("admin:merchants_merchant_change", args=[pending.pk])

    response = admin_web.post(
        url,
        {
            "owner": pending.owner.pk,
            "name": pending.name,
            "description": pending.description,
            "city": pending.city,
            "timezone": pending.timezone,
            "booking_emails": "each",
            "status": "approved",
        },
    )

    assert response.status_code == 302
    assert Merchant.objects.get(pk=pending.pk).status == MerchantStatus.PENDING


def test_change_form_refuses_a_bad_timezone(admin_web):
    merchant = MerchantFactory()
    url = reverse("admin:merchants_merchant_change", args=[merchant.pk])

    response = admin_web.post(
        url, {"owner": merchant.owner.pk, "name": merchant.name, "city": merchant.city, "timezone": "Mars/Olympus"}
    )

    assert response.status_code == 200
    assert "timezone" in response.context["adminform"].form.errors
