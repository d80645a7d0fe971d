"""Emails to merchants about payouts (payments.notifications): enabled, restricted, the daily transfers summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from bookings.models import BookingStatus
from bookings.tests.factories import ConfirmedBookingFactory
from bookwise.models import EmailKind, EmailLog
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory
from payments import notifications, tasks
from payments.models import ConnectedAccount, ConnectedAccountStatus, Transfer, TransferStatus

pytestmark = pytest.mark.django_db

ENABLED_AT = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)


def account_for(merchant, **fields):
    defaults = {
        "stripe_account_id": f"acct_test{merchant.pk:08d}",
        "status": ConnectedAccountStatus.ENABLED,
        "charges_enabled": True,
        "payouts_enabled": True,
        "details_submitted": True,
        "payouts_enabled_at": ENABLED_AT,
    }
    return ConnectedAccount.objects.create(merchant=merchant, **{**defaults, **fields})


def restrict(account, *, requirements, reason="requirements.past_due"):
    ConnectedAccount.objects.filter(pk=account.pk).update(
        status=ConnectedAccountStatus.RESTRICTED,
        payouts_enabled=False,
        requirements_due=requirements,
        disabled_reason=reason,
    )


@pytest.fixture
def merchant():
    return MerchantFactory(name="Harbour Games", owner__email="owner@harbour.example", owner__full_name="Hana Harbour")


# --- Payouts enabled ----------------------------------------------------------------------------


def test_payouts_enabled_email_is_sent_once_with_the_fee_the_delay_and_a_link_to_payouts(
    merchant, mailoutbox, settings
):
    settings.SITE_URL = "https://bookwise.example"
    settings.PAYOUT_DELAY_HOURS = 24
    merchant.fee_bps = 1250
    merchant.save(update_fields=["fee_bps"])
    account_for(merchant)

    assert tasks.send_payouts_enabled.delay(merchant.pk).get() is True
    assert tasks.send_payouts_enabled.delay(merchant.pk).get() is False  # a redelivered task sends nothing

    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == ["owner@harbour.example"]
    assert email.subject == "Harbour Games: payouts are enabled"
    payouts_url = "https://bookwise.example" + reverse("merchant:payouts")
    assert "Hello Hana Harbour," in email.body
    assert "transferred 24 hours after its slot ends, less the platform fee of 12.5 %" in email.body
    assert payouts_url in email.body
    html = email.alternatives[0][0]
    assert f'href="{payouts_url}"' in html
    assert EmailLog.objects.filter(kind=EmailKind.PAYOUTS_ENABLED).count() == 1


def test_payouts_enabled_email_is_not_sent_for_an_account_that_is_not_enabled_or_missing(merchant, mailoutbox):
    assert notifications.send_payouts_enabled_email(merchant_id=merchant.pk) is False  # no account at all
    account_for(merchant, status=ConnectedAccountStatus.PENDING, payouts_enabled=False, payouts_enabled_at=None)
    assert notifications.send_payouts_enabled_email(merchant_id=merchant.pk) is False

    assert mailoutbox == []
    assert not EmailLog.objects.exists()


def test_payouts_enabled_again_after_a_restriction_sends_a_new_email(merchant, mailoutbox):
    account = account_for(merchant)
    notifications.send_payouts_enabled_email(merchant_id=merchant.pk)
    restrict(account, requirements=["external_account"])
    ConnectedAccount.objects.filter(pk=account.pk).update(
        status=ConnectedAccountStatus.ENABLED, payouts_enabled=True, payouts_enabled_at=ENABLED_AT + timedelta(days=9)
    )

    assert notifications.send_payouts_enabled_email(merchant_id=merchant.pk) is True
    assert len(mailoutbox) == 2


# --- Account restricted -------------------------------------------------------------------------


def test_restricted_email_says_what_stripe_needs_in_words_and_links_to_payouts(merchant, mailoutbox, settings):
    settings.SITE_URL = "https://bookwise.example"
    account = account_for(merchant)
    restrict(account, requirements=["external_account", "individual.dob.day", "individual.dob.month"])

    assert tasks.send_payouts_restricted.delay(merchant.pk).get() is True

    email = mailoutbox[0]
    assert email.subject == "Harbour Games: Stripe needs more information before paying you"
    assert "- Stripe needs your bank details\n" in email.body
    assert email.body.count("- Stripe needs your date of birth\n") == 1  # one sentence for the three fields
    assert "Some information is past due, so payouts are paused." in email.body
    assert "external_account" not in email.body
    payouts_url = "https://bookwise.example" + reverse("merchant:payouts")
    assert payouts_url in email.body
    html = email.alternatives[0][0]
    assert "<li>Stripe needs your bank details</li>" in html
    assert f'href="{payouts_url}"' in html


def test_restricted_email_once_per_list_of_requirements(merchant, mailoutbox):
    account = account_for(merchant)
    restrict(account, requirements=["external_account"])

    assert notifications.send_payouts_restricted_email(merchant_id=merchant.pk) is True
    # A second account.updated with the same requirements (Stripe sends many): nothing new.
    assert notifications.send_payouts_restricted_email(merchant_id=merchant.pk) is False
    # Stripe now also needs an identity document: the merchant hears about it.
    restrict(account, requirements=["external_account", "individual.verification.document"])
    assert notifications.send_payouts_restricted_email(merchant_id=merchant.pk) is True

    assert len(mailoutbox) == 2
    assert "- Stripe needs a photo of your identity document\n" in mailoutbox[1].body


def test_restricted_email_is_not_sent_once_the_account_is_enabled_again(merchant, mailoutbox):
    account_for(merchant)  # the task ran after the merchant had already fixed it

    assert notifications.send_payouts_restricted_email(merchant_id=merchant.pk) is False
    assert mailoutbox == []


# --- The daily transfers summary ----------------------------------------------------------------


def transfer(merchant, account, *, amount, currency, at, status=TransferStatus.PAID, title="Ninja Dojo"):
    theme = ThemeFactory(merchant=merchant, currency=currency, price=amount, title=title)
    slot = SlotFactory(theme=theme, starts_at=at - timedelta(days=1, hours=2))
    booking = ConfirmedBookingFactory(slot=slot, status=BookingStatus.ATTENDED)
    return Transfer.objects.create(
        booking=booking,
        merchant=merchant,
        account=account,
        amount=amount,
        currency=currency,
        status=status,
        stripe_transfer_id=f"tr_test{booking.pk:010d}",
        idempotency_key=f"booking-{booking.pk}-transfer",
        attempts=1,
        transferred_at=at,
    )


@pytest.fixture
def tokyo():
    """A merchant in Tokyo (UTC+9): its local day 2030-03-05 is 2030-03-04 15:00 to 2030-03-05 15:00 UTC."""
    merchant = MerchantFactory(name="Tokyo Craft", timezone="Asia/Tokyo", owner__email="tomo@tokyo.example")
    return merchant, account_for(merchant)


def test_transfer_summary_lists_each_booking_of_the_local_day_and_totals_per_currency(tokyo, mailoutbox, settings):
    settings.SITE_URL = "https://bookwise.example"
    merchant, account = tokyo
    # 2030-03-05 in Tokyo: from 01:00 local (16:00 UTC the day before) to 23:30 local.
    first = transfer(merchant, account, amount=4050, currency="usd", at=datetime(2030, 3, 4, 16, 0, tzinfo=UTC))
    second = transfer(merchant, account, amount=2200, currency="usd", at=datetime(2030, 3, 5, 3, 0, tzinfo=UTC))
    yen = transfer(merchant, account, amount=5000, currency="jpy", at=datetime(2030, 3, 5, 14, 30, tzinfo=UTC))
    reversed_ = transfer(
        merchant,
        account,
        amount=900,
        currency="usd",
        at=datetime(2030, 3, 5, 4, 0, tzinfo=UTC),
        status=TransferStatus.REVERSED,
        title="Sushi Class",
    )
    # The local days before and after: other summaries.
    before = transfer(merchant, account, amount=111, currency="usd", at=datetime(2030, 3, 4, 14, 59, tzinfo=UTC))
    after = transfer(merchant, account, amount=222, currency="usd", at=datetime(2030, 3, 5, 15, 0, tzinfo=UTC))

    # 2030-03-06 08:00 in Tokyo: the 5th's summary is due (so are the 4th's, with `before`, and older days).
    assert notifications.send_transfer_digests(now=datetime(2030, 3, 5, 23, 0, tzinfo=UTC)) == 2

    by_subject = {m.subject: m for m in mailoutbox}
    assert set(by_subject) == {"Tokyo Craft: 4 transfers on 5 March 2030", "Tokyo Craft: 1 transfer on 4 March 2030"}
    email = by_subject["Tokyo Craft: 4 transfers on 5 March 2030"]
    assert email.to == ["tomo@tokyo.example"]
    body = email.body
    for listed in (first, second, yen, reversed_):
        assert f"#{listed.booking_id} " in body
        assert listed.stripe_transfer_id in body
    for other in (before, after):
        assert other.stripe_transfer_id not in body
    assert f"#{first.booking_id} Ninja Dojo: $40.50\n" in body
    assert f"{first.stripe_transfer_id} at 01:00" in body  # the merchant's time, not UTC
    assert f"#{yen.booking_id} Ninja Dojo: ¥5,000\n" in body
    assert f"#{reversed_.booking_id} Sushi Class: $9.00 (reversed)" in body
    # The reversed transfer never reached the merchant: not in the total.
    assert "Total transferred: ¥5,000 (1 booking), $62.50 (2 bookings)" in body
    assert "(Asia/Tokyo)" in body
    assert "https://bookwise.example" + reverse("merchant:payouts") in body
    html = email.alternatives[0][0]
    assert "<strong>$62.50</strong> (2 bookings)" in html
    assert "<s>$9.00</s>" in html


def test_transfer_summary_is_sent_once_however_often_the_hourly_task_runs(tokyo, mailoutbox):
    merchant, account = tokyo
    transfer(merchant, account, amount=4050, currency="usd", at=datetime(2030, 3, 5, 3, 0, tzinfo=UTC))

    runs = [datetime(2030, 3, 5, 22, 20, tzinfo=UTC) + timedelta(hours=n) for n in range(30)]
    assert sum(notifications.send_transfer_digests(now=now) for now in runs) == 1

    assert len(mailoutbox) == 1
    assert EmailLog.objects.get(kind=EmailKind.PAYOUTS_TRANSFERS).key == f"{merchant.pk}:2030-03-05"


def test_transfer_summary_waits_for_the_morning_after_the_local_day(tokyo, mailoutbox):
    merchant, account = tokyo
    transfer(merchant, account, amount=4050, currency="usd", at=datetime(2030, 3, 5, 3, 0, tzinfo=UTC))

    # 2030-03-05 23:30 and 2030-03-06 06:59 in Tokyo: not yet.
    assert notifications.send_transfer_digests(now=datetime(2030, 3, 5, 14, 30, tzinfo=UTC)) == 0
    assert notifications.send_transfer_digests(now=datetime(2030, 3, 5, 21, 59, tzinfo=UTC)) == 0
    # 07:00 in Tokyo.
    assert notifications.send_transfer_digests(now=datetime(2030, 3, 5, 22, 0, tzinfo=UTC)) == 1
    assert len(mailoutbox) == 1


def test_no_transfers_no_summary_and_failed_or_pending_transfers_are_not_listed(tokyo, mailoutbox):
    merchant, account = tokyo
    other = MerchantFactory()
    account_for(other)  # enabled, but nothing was transferred
    transfer(merchant, account, amount=4050, currency="usd", at=datetime(2030, 3, 5, 3, 0, tzinfo=UTC), status="failed")

    assert notifications.send_transfer_digests(now=datetime(2030, 3, 6, 3, 0, tzinfo=UTC)) == 0
    assert tasks.send_transfer_digests.delay().get() == 0  # today: nothing at all

    assert mailoutbox == []
    assert not EmailLog.objects.exists()


def test_every_payouts_email_kind_has_its_three_templates():
    from django.template.loader import get_template

    for kind in (EmailKind.PAYOUTS_ENABLED, EmailKind.PAYOUTS_RESTRICTED, EmailKind.PAYOUTS_TRANSFERS):
        template = kind.value
        for name in (f"emails/{template}_subject.txt", f"emails/{template}.txt", f"emails/{template}.html"):
            assert get_template(name)
