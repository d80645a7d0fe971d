"""Promo codes (bookings.promo): validation, the discount, exact counting, giving back, and money after it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings import promo as promo_module
from bookings import services
from bookings.models import Booking, BookingStatus, PromoCode
from bookings.promo import promo_code_create, promo_code_update, promo_codes_of, promo_discount
from bookings.tests.factories import BookingFactory
from bookwise.errors import DomainError, InvalidInput
from catalog.models import BookingMode
from catalog.tests.factories import SlotFactory, ThemeFactory
from checkout.services import booking_cancel_and_refund
from merchants.tests.factories import MerchantFactory
from payments.ledger import fee_amount, fee_key, ledger_record_charge
from payments.models import LedgerEntry, Refund
from payments.tests.factories import SucceededPaymentFactory
from tests.concurrency import run_together

TIERS = [{"code": "adult", "label": "Adult", "price": 3000}, {"code": "child", "label": "Child", "price": 1800}]


def make_code(merchant, code="WELCOME10", **fields) -> PromoCode:
    fields.setdefault("percent_off", None if "amount_off" in fields else 10)
    return promo_code_create(merchant=merchant, code=code, **fields)


def join(slot, customer=None, **kwargs) -> Booking:
    return services.booking_join(slot_id=slot.pk, customer=customer or UserFactory(), **kwargs)


def redemptions(code: PromoCode) -> int:
    code.refresh_from_db()
    return code.redemptions


def refused_words(slot, code: str, **kwargs) -> str:
    with pytest.raises(DomainError) as exc:
        join(slot, promo_code=code, **kwargs)
    assert exc.value.code == "promo_invalid"
    assert exc.value.http_status == 409
    return exc.value.message


# --- Creating and changing codes -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"code": "ab"}, "code"),
        ({"code": "NO SPACES"}, "code"),
        ({"code": "x" * 41}, "code"),
        ({"percent_off": 0}, "percent_off"),
        ({"percent_off": 101}, "percent_off"),
        ({"percent_off": 10, "amount_off": 500, "currency": "usd"}, "percent_off"),
        ({"percent_off": None, "amount_off": 500}, "currency"),
        ({"percent_off": None, "amount_off": 500, "currency": "xyz"}, "currency"),
        ({"percent_off": None, "amount_off": 0, "currency": "usd"}, "amount_off"),
        ({"max_redemptions": 0}, "max_redemptions"),
        ({"valid_from": timezone.now(), "valid_to": timezone.now() - timedelta(days=1)}, "valid_to"),
    ],
)
def test_create_refuses_invalid_fields_with_400(fields, field):
    merchant = MerchantFactory()
    kwargs = {"code": "SPRING", "percent_off": 10, **fields}
    with pytest.raises(InvalidInput) as exc:
        promo_code_create(merchant=merchant, **kwargs)
    assert exc.value.http_status == 400
    assert exc.value.field == field


@pytest.mark.django_db
def test_create_refuses_a_theme_of_another_merchant():
    merchant = MerchantFactory()
    own, foreign = ThemeFactory(merchant=merchant), ThemeFactory()
    with pytest.raises(InvalidInput) as exc:
        make_code(merchant, themes=[own.pk, foreign.pk])
    assert exc.value.field == "themes"
    assert str(foreign.pk) in exc.value.message
    code = make_code(merchant, themes=[own.pk])
    assert list(code.themes.all()) == [own]


@pytest.mark.django_db
def test_codes_are_unique_per_merchant_ignoring_case():
    merchant = MerchantFactory()
    make_code(merchant, code="Summer")
    with pytest.raises(DomainError) as exc:
        make_code(merchant, code="SUMMER")
    assert exc.value.code == "promo_code_exists"
    assert exc.value.http_status == 409
    make_code(MerchantFactory(), code="SUMMER")  # another merchant may use the same word


@pytest.mark.django_db
def test_an_amount_off_code_keeps_its_currency_normalised():
    code = make_code(MerchantFactory(), amount_off=500, currency=" EUR ")
    assert (code.amount_off, code.currency, code.percent_off) == (500, "eur", None)


@pytest.mark.django_db
def test_update_pauses_resumes_and_never_sets_the_maximum_below_redemptions():
    merchant = MerchantFactory()
    code = make_code(merchant, max_redemptions=5)
    PromoCode.objects.filter(pk=code.pk).update(redemptions=3)

    with pytest.raises(InvalidInput) as exc:
        promo_code_update(code=code, max_redemptions=2)
    assert exc.value.code == "max_below_redemptions"
    assert promo_code_update(code=code, max_redemptions=3).max_redemptions == 3
    assert promo_code_update(code=code, max_redemptions=None).max_redemptions is None
    assert promo_code_update(code=code, is_active=False).is_active is False
    assert promo_code_update(code=code, is_active=True).is_active is True
    with pytest.raises(InvalidInput):
        promo_code_update(code=code, percent_off=50)


# --- The discount ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_percent_discounts_round_half_even_and_amounts_are_capped_at_the_price():
    merchant = MerchantFactory()
    fifteen = make_code(merchant, code="FIFTEEN", percent_off=15)
    ten = make_code(merchant, code="TEN", percent_off=10)
    five_off = make_code(merchant, code="FIVE", amount_off=500, currency="usd")
    assert promo_discount(promo=fifteen, amount=2999) == 450  # 449.85
    assert promo_discount(promo=ten, amount=25) == 2  # 2.5 -> 2 (half-even)
    assert promo_discount(promo=ten, amount=35) == 4  # 3.5 -> 4 (half-even)
    assert promo_discount(promo=five_off, amount=2500) == 500
    assert promo_discount(promo=five_off, amount=300) == 300
    assert promo_discount(promo=fifteen, amount=0) == 0


@pytest.mark.django_db
def test_a_join_with_a_code_stores_the_discount_and_counts_one_redemption():
    slot = SlotFactory(theme__price=2500)
    code = make_code(slot.theme.merchant, max_redemptions=100)

    booking = join(slot, party_size=2, promo_code="WELCOME10")

    assert (booking.amount, booking.discount, booking.promo_code_id) == (4500, 500, code.pk)
    assert booking.status == BookingStatus.PENDING_PAYMENT
    assert redemptions(code) == 1


@pytest.mark.django_db
def test_codes_are_case_insensitive_and_trimmed():
    slot = SlotFactory(theme__price=2000)
    code = make_code(slot.theme.merchant, code="Welcome10")
    assert join(slot, promo_code="  wElCoMe10 ").promo_code_id == code.pk


@pytest.mark.django_db
def test_tiers_with_a_code():
    slot = SlotFactory(theme=ThemeFactory(price_tiers=TIERS), price=9999)  # a peak price never changes tiers
    make_code(slot.theme.merchant, percent_off=20)
    booking = join(
        slot, tickets=[{"tier": "adult", "quantity": 2}, {"tier": "child", "quantity": 1}], promo_code="welcome10"
    )
    assert (booking.amount + booking.discount, booking.discount, booking.amount) == (7800, 1560, 6240)


@pytest.mark.django_db
def test_a_peak_slot_price_with_a_code():
    slot = SlotFactory(theme__price=2000, price=3000)
    make_code(slot.theme.merchant, percent_off=15)
    booking = join(slot, party_size=3, promo_code="WELCOME10")
    assert (booking.discount, booking.amount) == (1350, 7650)  # 15 % of 3 x 3000


@pytest.mark.django_db
def test_a_private_flat_price_with_a_peak_and_an_amount_off_code():
    theme = ThemeFactory(booking_mode=BookingMode.PRIVATE, private_price=12000, currency="eur")
    slot = SlotFactory(theme=theme, price=15000)
    make_code(theme.merchant, code="FLAT20", amount_off=2000, currency="eur")
    booking = join(slot, party_size=4, promo_code="flat20")
    assert (booking.discount, booking.amount) == (2000, 13000)


@pytest.mark.django_db
def test_a_discount_to_zero_confirms_at_once_like_a_free_booking():
    slot = SlotFactory(theme__price=1500)
    code = make_code(slot.theme.merchant, code="FREEBIE", percent_off=100)
    booking = join(slot, promo_code="FREEBIE")
    assert (booking.status, booking.amount, booking.discount, booking.expires_at) == (
        BookingStatus.CONFIRMED,
        0,
        1500,
        None,
    )
    assert redemptions(code) == 1


@pytest.mark.django_db
def test_a_code_on_a_free_theme_is_ignored_and_not_counted():
    slot = SlotFactory(theme__price=0)
    code = make_code(slot.theme.merchant)
    booking = join(slot, promo_code="WELCOME10")
    assert (booking.amount, booking.discount, booking.promo_code_id) == (0, 0, None)
    assert redemptions(code) == 0


# --- Refusals, in words ------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unknown_code_is_refused():
    slot = SlotFactory()
    assert refused_words(slot, "NOPE") == "Unknown code: check its spelling."
    assert not Booking.objects.filter(slot=slot).exists()


@pytest.mark.django_db
def test_a_code_of_another_merchant_is_refused():
    slot = SlotFactory()
    other = make_code(MerchantFactory(), code="THEIRS")
    assert refused_words(slot, "theirs") == "This code is not valid for this experience."
    assert redemptions(other) == 0
    assert not Booking.objects.filter(slot=slot).exists()


@pytest.mark.django_db
def test_a_code_for_other_themes_is_refused():
    slot = SlotFactory()
    make_code(slot.theme.merchant, themes=[ThemeFactory(merchant=slot.theme.merchant).pk])
    assert refused_words(slot, "WELCOME10") == "This code is not valid for this experience."


@pytest.mark.django_db
def test_dates_paused_currency_and_used_up_are_refused_in_words():
    slot = SlotFactory(theme__currency="usd")
    merchant = slot.theme.merchant
    now = timezone.now()
    make_code(merchant, code="LATER", valid_from=now + timedelta(days=1))
    make_code(merchant, code="OVER", valid_from=now - timedelta(days=9), valid_to=now - timedelta(days=1))
    make_code(merchant, code="PAUSED", is_active=False)
    make_code(merchant, code="EUROS", amount_off=500, currency="eur")
    full = make_code(merchant, code="FULL", max_redemptions=2)
    PromoCode.objects.filter(pk=full.pk).update(redemptions=2)

    assert refused_words(slot, "later") == "This code is not valid yet."
    assert refused_words(slot, "over") == "This code has expired."
    assert refused_words(slot, "paused") == "This code is not active at the moment."
    assert refused_words(slot, "euros") == "This code only applies to prices in EUR."
    assert refused_words(slot, "full") == "This code has been used up."
    # Within its dates it works.
    make_code(merchant, code="NOW", valid_from=now - timedelta(hours=1), valid_to=now + timedelta(hours=1))
    assert join(slot, promo_code="now").discount == 250


@pytest.mark.django_db
def test_a_refused_join_counts_nothing():
    slot = SlotFactory(capacity=1)
    code = make_code(slot.theme.merchant)
    join(slot)  # the only seat
    with pytest.raises(DomainError) as exc:
        join(slot, promo_code="WELCOME10")
    assert exc.value.code == "slot_full"
    assert redemptions(code) == 0


# --- Giving back -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_expired_hold_gives_its_redemption_back_once():
    slot = SlotFactory()
    code = make_code(slot.theme.merchant, max_redemptions=1)
    booking = join(slot, promo_code="WELCOME10")
    assert redemptions(code) == 1
    later = booking.expires_at + timedelta(seconds=1)

    assert services.bookings_expire_due(now=later) == 1
    assert services.bookings_expire_due(now=later) == 0

    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED
    assert redemptions(code) == 0
    join(slot, promo_code="WELCOME10")  # the code has room again
    assert redemptions(code) == 1


@pytest.mark.django_db
def test_the_sweep_gives_back_several_holds_of_one_code_together():
    merchant = MerchantFactory()
    code = make_code(merchant)
    slots = [SlotFactory(theme__merchant=merchant) for _ in range(3)]
    bookings = [join(slot, promo_code="WELCOME10") for slot in slots]
    join(SlotFactory(theme__merchant=merchant))  # a hold without a code
    assert redemptions(code) == 3
    later = max(b.expires_at for b in bookings) + timedelta(seconds=1)
    assert services.bookings_expire_due(now=later) == 4
    assert redemptions(code) == 0


@pytest.mark.django_db
def test_an_unpaid_cancel_gives_the_redemption_back():
    slot = SlotFactory()
    code = make_code(slot.theme.merchant)
    booking = join(slot, promo_code="WELCOME10")
    booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
    assert redemptions(code) == 0
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_a_cancelled_booking_made_free_by_its_code_gives_it_back():
    slot = SlotFactory()
    code = make_code(slot.theme.merchant, percent_off=100)
    booking = join(slot, promo_code="WELCOME10")
    booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
    assert redemptions(code) == 0


@pytest.mark.django_db
def test_a_paid_cancel_keeps_the_redemption():
    slot = SlotFactory(starts_at=timezone.now() + timedelta(days=5))
    code = make_code(slot.theme.merchant)
    booking = join(slot, promo_code="WELCOME10")
    SucceededPaymentFactory(booking=booking)
    assert services.booking_confirm_payment(booking_id=booking.pk) == services.ConfirmOutcome.CONFIRMED

    booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)

    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert redemptions(code) == 1


@pytest.mark.django_db
def test_a_rejoin_after_the_own_hold_ran_out_counts_once():
    slot = SlotFactory()
    code = make_code(slot.theme.merchant)
    customer = UserFactory()
    first = join(slot, customer, promo_code="WELCOME10")
    later = first.expires_at + timedelta(seconds=1)
    second = services.booking_join(slot_id=slot.pk, customer=customer, promo_code="WELCOME10", now=later)
    first.refresh_from_db()
    assert first.status == BookingStatus.EXPIRED
    assert second.discount == 250
    assert redemptions(code) == 1


@pytest.mark.django_db
def test_a_late_payment_counts_the_redemption_again_when_room_is_left():
    slot = SlotFactory()
    code = make_code(slot.theme.merchant, max_redemptions=1)
    booking = join(slot, promo_code="WELCOME10")
    later = booking.expires_at + timedelta(seconds=1)
    services.bookings_expire_due(now=later)
    assert redemptions(code) == 0

    assert services.booking_confirm_payment(booking_id=booking.pk, now=later) == services.ConfirmOutcome.CONFIRMED
    assert redemptions(code) == 1


@pytest.mark.django_db
def test_a_late_payment_on_a_used_up_code_still_confirms_and_the_count_stays_at_the_maximum():
    slot = SlotFactory()
    code = make_code(slot.theme.merchant, max_redemptions=1)
    booking = join(slot, promo_code="WELCOME10")
    later = booking.expires_at + timedelta(seconds=1)
    services.bookings_expire_due(now=later)
    services.booking_join(slot_id=SlotFactory(theme=slot.theme).pk, customer=UserFactory(), promo_code="welcome10")
    assert redemptions(code) == 1

    assert services.booking_confirm_payment(booking_id=booking.pk, now=later) == services.ConfirmOutcome.CONFIRMED
    booking.refresh_from_db()
    assert (booking.status, booking.discount) == (BookingStatus.CONFIRMED, 250)
    assert redemptions(code) == 1  # never past the maximum


@pytest.mark.django_db
def test_a_late_payment_found_unpaid_at_confirmation_gives_back_and_counts_again():
    """The hold ran out but was never swept: pending -> expired -> confirmed in one go, net one redemption."""
    slot = SlotFactory()
    code = make_code(slot.theme.merchant, max_redemptions=1)
    booking = join(slot, promo_code="WELCOME10")
    later = booking.expires_at + timedelta(seconds=1)
    assert services.booking_confirm_payment(booking_id=booking.pk, now=later) == services.ConfirmOutcome.CONFIRMED
    assert redemptions(code) == 1


@pytest.mark.django_db
def test_the_give_back_never_goes_below_zero():
    slot = SlotFactory()
    code = make_code(slot.theme.merchant)
    booking = BookingFactory(slot=slot, promo_code=code, discount=250, amount=2250)  # never counted (written directly)
    booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
    assert redemptions(code) == 0
    with transaction.atomic():
        promo_module.promo_give_back(promo_id=code.pk, count=5)
    assert redemptions(code) == 0


# --- Money after a discount: refunds and the platform fee ------------------------------------------


@pytest.mark.django_db
def test_a_partial_refund_is_a_share_of_what_was_paid_and_the_fee_is_on_what_was_paid():
    start = timezone.now() + timedelta(hours=30)
    slot = SlotFactory(
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        theme__price=4000,
        theme__cancellation_policy=[
            {"hours_before": 48, "refund_percent": 100},
            {"hours_before": 24, "refund_percent": 50},
            {"hours_before": 0, "refund_percent": 0},
        ],
    )
    merchant = slot.theme.merchant
    make_code(merchant, percent_off=25)
    booking = join(slot, party_size=1, promo_code="WELCOME10")
    assert (booking.amount, booking.discount) == (3000, 1000)
    payment = SucceededPaymentFactory(booking=booking)
    assert payment.amount == 3000
    services.booking_confirm_payment(booking_id=booking.pk)
    ledger_record_charge(payment=payment)

    fee = -LedgerEntry.objects.get(key=fee_key(payment.pk)).amount
    assert fee == fee_amount(amount=3000, fee_bps=merchant.effective_fee_bps)

    result = booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
    assert (result.refund_amount, result.refund_percent) == (1500, 50)  # half of the 3000 paid, not of 4000
    assert Refund.objects.get(payment=payment).amount == 1500


@pytest.mark.django_db
def test_revenue_per_code_is_what_was_paid_with_it_and_kept():
    merchant = MerchantFactory()
    code = make_code(merchant, percent_off=20)
    paid = join(SlotFactory(theme__merchant=merchant, theme__price=5000), promo_code="WELCOME10")
    SucceededPaymentFactory(booking=paid)
    services.booking_confirm_payment(booking_id=paid.pk)
    join(SlotFactory(theme__merchant=merchant, theme__price=5000), promo_code="WELCOME10")  # unpaid hold
    make_code(merchant, code="UNUSED")

    rows = {row.code: row for row in promo_codes_of(merchant=merchant)}
    assert (rows["WELCOME10"].revenue, rows["WELCOME10"].redemptions) == (4000, 2)
    assert (rows["UNUSED"].revenue, rows["UNUSED"].redemptions) == (0, 0)
    assert code.pk == rows["WELCOME10"].pk


# --- Exact under concurrency -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_joins_on_a_code_with_ten_redemptions_left_get_exactly_ten():
    merchant = MerchantFactory()
    theme = ThemeFactory(merchant=merchant, price=2000)
    code = make_code(merchant, max_redemptions=13)
    PromoCode.objects.filter(pk=code.pk).update(redemptions=3)
    slots = [SlotFactory(theme=theme, capacity=2) for _ in range(50)]
    customers = [UserFactory() for _ in range(50)]

    results = run_together(
        [
            lambda s=s, c=c: services.booking_join(slot_id=s.pk, customer=c, promo_code="welcome10")
            for s, c in zip(slots, customers, strict=True)
        ]
    )

    winners = [r for r in results if isinstance(r, Booking)]
    losers = [r for r in results if not isinstance(r, Booking)]
    assert len(winners) == 10
    assert all(isinstance(e, DomainError) and e.code == "promo_invalid" for e in losers), losers
    assert {e.message for e in losers} == {"This code has been used up."}
    assert all((b.discount, b.amount) == (200, 1800) for b in winners)
    assert redemptions(code) == 13
    assert Booking.objects.filter(promo_code=code).count() == 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_expiry_sweeps_give_each_redemption_back_once():
    merchant = MerchantFactory()
    code = make_code(merchant)
    holds = [join(SlotFactory(theme__merchant=merchant), promo_code="WELCOME10") for _ in range(8)]
    assert redemptions(code) == 8
    later = max(b.expires_at for b in holds) + timedelta(seconds=1)

    results = run_together([lambda: services.bookings_expire_due(now=later, batch_size=3) for _ in range(4)])

    assert sum(results) == 8, results
    assert redemptions(code) == 0
