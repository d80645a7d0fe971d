"""The money model: fee arithmetic (hypothesis), the ledger writes, and their hooks in the payment flow."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.tests.factories import SlotFactory
from payments.ledger import (
    booking_net,
    fee_amount,
    fee_kept,
    ledger_record_charge,
    ledger_record_refund,
)
from payments.models import LedgerEntry, LedgerKind, PaymentStatus, Refund
from payments.tests.factories import RefundFactory, SucceededPaymentFactory

amounts = st.integers(min_value=0, max_value=10**12)
bps = st.integers(min_value=0, max_value=10_000)


def reference_fee(amount: int, fee_bps: int) -> int:
    """The same fee in decimal arithmetic, as an accountant would compute it."""
    exact = Decimal(amount) * Decimal(fee_bps) / Decimal(10_000)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


# --- Arithmetic ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "fee_bps", "fee"),
    [
        (2500, 1000, 250),
        (5, 1000, 0),  # 0.5 -> 0 (even)
        (15, 1000, 2),  # 1.5 -> 2 (even)
        (25, 1000, 2),  # 2.5 -> 2 (even)
        (35, 1000, 4),  # 3.5 -> 4 (even)
        (1999, 1000, 200),  # 199.9
        (1, 10_000, 1),
        (12345, 0, 0),
        (333, 333, 11),  # 11.0889
    ],
)
def test_fee_is_basis_points_rounded_half_even(amount, fee_bps, fee):
    assert fee_amount(amount=amount, fee_bps=fee_bps) == fee


def test_zero_decimal_currency_fee_is_whole_units_by_construction():
    # 1,999 JPY (no minor unit: Stripe counts yen) at 10 %: 199.9 yen -> 200 yen, never 199.90.
    assert fee_amount(amount=1999, fee_bps=1000) == 200
    # 4,500 JPY at 7.5 %: 337.5 -> 338 (half-even: 337 is odd).
    assert fee_amount(amount=4500, fee_bps=750) == 338
    # The same digits in cents mean 19.99 USD: the arithmetic is identical, only the unit differs.
    assert fee_amount(amount=1999, fee_bps=1000) == reference_fee(1999, 1000)


@pytest.mark.parametrize(("amount", "fee_bps"), [(-1, 1000), (100, -1), (100, 10_001)])
def test_fee_refuses_impossible_input(amount, fee_bps):
    with pytest.raises(ValueError):
        fee_amount(amount=amount, fee_bps=fee_bps)


@given(amount=amounts, fee_bps=bps)
def test_fee_equals_decimal_half_even_and_stays_within_the_amount(amount, fee_bps):
    fee = fee_amount(amount=amount, fee_bps=fee_bps)
    assert isinstance(fee, int)
    assert fee == reference_fee(amount, fee_bps)
    assert 0 <= fee <= amount


@st.composite
def partial_refunds(draw):
    """A paid amount, a fee rate and a sequence of partial refunds whose total is at most the amount."""
    paid = draw(st.integers(min_value=1, max_value=10**9))
    fee_bps = draw(bps)
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=paid), max_size=8)))
    full = draw(st.booleans())
    points = [*cuts, paid] if full else cuts
    refunds = [b - a for a, b in zip([0, *points], points, strict=False) if b - a > 0]
    return paid, fee_bps, refunds


@given(case=partial_refunds())
def test_partial_refunds_never_drift_and_a_full_refund_gives_the_whole_fee_back(case):
    paid, fee_bps, refunds = case
    fee = fee_amount(amount=paid, fee_bps=fee_bps)
    refunded = 0
    fee_back_total = 0
    for amount in refunds:
        back = fee_kept(fee=fee, paid=paid, remaining=paid - refunded) - fee_kept(
            fee=fee, paid=paid, remaining=paid - refunded - amount
        )
        refunded += amount
        fee_back_total += back
        assert back >= 0
        kept = fee - fee_back_total
        # Cumulative, not step by step: what is kept is always the rounded share of what remains.
        assert kept == fee_kept(fee=fee, paid=paid, remaining=paid - refunded)
        assert 0 <= kept <= fee
        assert paid - refunded - kept >= 0  # the merchant's net never goes negative
    if refunded == paid:
        assert fee_back_total == fee
        assert paid - fee - refunded + fee_back_total == 0


# --- The ledger in the database -----------------------------------------------------------------


def paid(amount: int = 5000, currency: str = "usd", fee_bps: int | None = None):
    slot = SlotFactory(theme__price=amount, theme__currency=currency, theme__merchant__fee_bps=fee_bps)
    payment = SucceededPaymentFactory(booking__slot=slot, booking__party_size=1)
    with transaction.atomic():
        ledger_record_charge(payment=payment)
    return payment


def entries(booking_id: int) -> dict[str, int]:
    return dict(LedgerEntry.objects.filter(booking_id=booking_id).values_list("key", "amount"))


@pytest.mark.django_db
def test_charge_records_gross_and_fee_at_the_merchants_rate_once(settings):
    settings.PLATFORM_FEE_BPS = 1000
    payment = paid(5000, fee_bps=750)
    with transaction.atomic():
        ledger_record_charge(payment=payment)  # a duplicate webhook

    assert entries(payment.booking_id) == {f"charge:payment:{payment.pk}": 5000, f"fee:payment:{payment.pk}": -375}
    charge = LedgerEntry.objects.get(kind=LedgerKind.CHARGE)
    assert (charge.merchant_id, charge.currency, charge.stripe_id) == (
        payment.booking.slot.theme.merchant_id,
        "usd",
        payment.stripe_charge_id,
    )
    assert booking_net(booking_id=payment.booking_id) == 4625


@pytest.mark.django_db
def test_the_platform_default_applies_without_an_override(settings):
    settings.PLATFORM_FEE_BPS = 1200
    payment = paid(2500)
    assert booking_net(booking_id=payment.booking_id) == 2500 - 300


@pytest.mark.django_db
def test_a_later_fee_change_does_not_touch_a_paid_booking_and_a_full_refund_nets_zero(settings):
    payment = paid(4999, fee_bps=1000)  # fee 499.9 -> 500
    merchant = payment.booking.slot.theme.merchant
    merchant.fee_bps = 2500
    merchant.save(update_fields=["fee_bps"])
    refund = RefundFactory(payment=payment, amount=4999)

    with transaction.atomic():
        ledger_record_refund(refund=refund)
        ledger_record_refund(refund=refund)  # idempotent

    assert entries(payment.booking_id) == {
        f"charge:payment:{payment.pk}": 4999,
        f"fee:payment:{payment.pk}": -500,
        f"refund:{refund.pk}": -4999,
        f"fee-back:{refund.pk}": 500,
    }
    assert booking_net(booking_id=payment.booking_id) == 0


@pytest.mark.django_db
def test_zero_decimal_currency_booking_in_yen():
    payment = paid(1999, currency="jpy", fee_bps=1000)
    assert entries(payment.booking_id)[f"fee:payment:{payment.pk}"] == -200
    assert set(LedgerEntry.objects.values_list("currency", flat=True)) == {"jpy"}
    assert booking_net(booking_id=payment.booking_id) == 1799


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=partial_refunds())
def test_recorded_partial_refunds_never_drift_in_the_database(case):
    amount, fee_bps, refunds = case  # amount <= 10**9: fits the theme's price column
    payment = paid(amount, fee_bps=fee_bps)
    fee = fee_amount(amount=amount, fee_bps=fee_bps)
    refunded = 0
    for index, part in enumerate(refunds):
        refund = Refund.objects.create(
            payment=payment, amount=part, reason="partial", idempotency_key=f"test-{payment.pk}-{index}"
        )
        with transaction.atomic():
            ledger_record_refund(refund=refund)
        refunded += part
        net = booking_net(booking_id=payment.booking_id)
        assert net == amount - refunded - fee_kept(fee=fee, paid=amount, remaining=amount - refunded)
        assert net >= 0
    fees = LedgerEntry.objects.filter(booking_id=payment.booking_id, kind=LedgerKind.FEE).aggregate(t=Sum("amount"))
    if refunded == amount:
        assert booking_net(booking_id=payment.booking_id) == 0
        assert fees["t"] == 0


@pytest.mark.django_db
def test_a_refund_larger_than_what_is_left_is_refused():
    payment = paid(1000)
    first = RefundFactory(payment=payment, amount=800)
    second = Refund.objects.create(payment=payment, amount=300, reason="x", idempotency_key="second")
    with transaction.atomic():
        ledger_record_refund(refund=first)
    with pytest.raises(ValueError), transaction.atomic():
        ledger_record_refund(refund=second)


@pytest.mark.django_db
def test_a_payment_that_did_not_succeed_has_no_charge():
    payment = SucceededPaymentFactory(status=PaymentStatus.REQUIRES_PAYMENT)
    with pytest.raises(ValueError), transaction.atomic():
        ledger_record_charge(payment=payment)


@pytest.mark.django_db
def test_a_refund_of_a_payment_from_before_the_ledger_records_its_charge_first():
    payment = SucceededPaymentFactory()
    refund = RefundFactory(payment=payment)
    with transaction.atomic():
        ledger_record_refund(refund=refund)
    assert LedgerEntry.objects.filter(booking_id=payment.booking_id).count() == 4
    assert booking_net(booking_id=payment.booking_id) == 0


@pytest.mark.django_db
def test_the_ledger_trigger_refuses_update_and_delete():
    payment = paid(1000)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(booking_id=payment.booking_id).update(amount=0)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(booking_id=payment.booking_id).delete()
    entry = LedgerEntry.objects.filter(booking_id=payment.booking_id).first()
    entry.amount = 1
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        entry.save()
    assert booking_net(booking_id=payment.booking_id) == 900


# --- Hooked into the payment flow (against localstripe) ------------------------------------------


@pytest.mark.django_db
@pytest.mark.localstripe
def test_a_paid_booking_records_its_charge_and_fee_and_a_cancel_nets_zero(
    webhook_endpoint, pending_booking, django_capture_on_commit_callbacks, settings
):
    from checkout.services import booking_cancel_and_refund
    from payments.tests.test_services import paid_and_confirmed

    settings.PLATFORM_FEE_BPS = 1000
    payment = paid_and_confirmed(pending_booking, webhook_endpoint)

    payment.refresh_from_db()
    assert payment.stripe_charge_id.startswith("ch_")  # the intent's latest_charge, the transfer's source
    assert entries(pending_booking.pk) == {f"charge:payment:{payment.pk}": 5000, f"fee:payment:{payment.pk}": -500}
    assert LedgerEntry.objects.get(kind=LedgerKind.CHARGE).stripe_id == payment.stripe_charge_id

    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel_and_refund(booking_id=pending_booking.pk, by=pending_booking.customer)

    refund = Refund.objects.get(payment=payment)
    assert entries(pending_booking.pk)[f"refund:{refund.pk}"] == -5000
    assert entries(pending_booking.pk)[f"fee-back:{refund.pk}"] == 500
    assert booking_net(booking_id=pending_booking.pk) == 0
