"""Money through Stripe: one PaymentIntent per booking, webhooks, refunds, reconciliation.

The flow
--------
1. The customer's client calls ``POST /api/v1/payments/create/``:
   :func:`payment_intent_for_booking` creates (or returns) the booking's one
   PaymentIntent; the client confirms the card with Stripe.js and the intent's
   ``client_secret``. The portal's checkout page instead turns the card into a
   token with Stripe.js (``createToken``) and posts it to
   ``/bookings/<id>/pay/``: :func:`payment_confirm_card` attaches it and
   confirms the same intent server-side (the browser only finishes 3-D Secure
   when asked), which works against Stripe and localstripe alike.
2. Stripe POSTs a signed event to dj-stripe's view at
   ``/stripe/webhook/<djstripe_uuid>/``: one ``djstripe.WebhookEndpoint`` row
   whose ``secret`` is ``STRIPE_WEBHOOK_SECRET`` (``manage.py
   stripe_webhook_endpoint`` creates it and prints the path; register
   ``SITE_URL`` + that path at Stripe; in development the start script registers
   it with localstripe). dj-stripe answers 400 when the ``Stripe-Signature``
   header is missing or wrong or older than the endpoint's
   ``djstripe_tolerance`` seconds, stores each event id once
   (``djstripe.Event``), re-retrieves the object from the Stripe API to sync its
   own tables (``GET /v1/payment_intents/<id>``, ...), then sends its signals.
   Everything runs in one transaction: a failure answers 500 (503 when Stripe
   itself is unreachable, see payments.webhooks.WebhookView), nothing is kept
   and Stripe delivers again later. dj-stripe's own Stripe calls use the SDK's
   module-level client, given our timeout by
   :func:`payments.gateway.configure_sdk_defaults`.
3. Our receivers (payments/webhooks.py) take from the payload only which object
   the event is about: ``checkout.services.payment_intent_apply_event`` and
   :func:`payment_apply_charge_event` re-read it from Stripe with our own client
   (:func:`payment_read_intent_event`) and apply Stripe's state, never the
   payload's (a correctly signed event saying "succeeded" for an intent Stripe
   shows unpaid confirms nothing). A succeeded intent confirms the booking only
   when Stripe received exactly the payment's amount, in its currency and in
   our mode (STRIPE_LIVE_MODE): :func:`payment_apply_intent` moves the payment,
   and checkout.services confirms the booking through
   ``bookings.services.booking_confirm_payment``; when that answers MUST_REFUND
   (the hold ran out and the seats are gone, or the booking was cancelled) a
   Refund row is recorded (:func:`payment_refund_record`) and
   ``payments.tasks.process_refund`` sends it after commit. When Stripe cannot
   be reached, the receiver raises :class:`payments.gateway.StripeUnavailable`:
   dj-stripe rolls the event back and our webhook view answers 503, so Stripe
   delivers it again later.
4. ``checkout.tasks.reconcile_pending_payments`` (Celery beat) re-reads the
   intents of bookings still waiting for payment (or ended recently) and applies
   them through the same flow, so a lost webhook cannot leave a paid customer
   unconfirmed.

Settings that matter: ``STRIPE_SECRET_KEY``; ``STRIPE_WEBHOOK_SECRET`` (the
endpoint's signing secret); ``STRIPE_WEBHOOK_TOLERANCE`` (seconds, copied to the
endpoint's ``djstripe_tolerance``); ``STRIPE_API_HOST`` (localstripe's URL, in
development and tests only); ``STRIPE_TIMEOUT_SECONDS``;
``PAYMENT_RECONCILE_SECONDS``, ``PAYMENT_RECONCILE_WINDOW_HOURS``;
``BOOKING_HOLD_MINUTES``. ``DEBUG`` must be off in production: with it on,
dj-stripe trusts a secret sent in an ``X-Djstripe-Webhook-Secret`` header.

Rules
-----
- Every Stripe write carries a deterministic idempotency key, stored on its
  row (``booking-<id>-intent``, ``booking-<id>-refund``) or derived from the
  request (``booking-<id>-confirm-<card token>``), so a retry can never
  charge or refund twice.
- No Stripe call runs while a row lock is held (the one advisory lock around
  intent creation is explained in :func:`payment_intent_for_booking`).
- Lock order, shared with bookings.services: slot row, booking row, payment
  row, refund row. The flows that hold several of them (checkout.services)
  take the slot and booking locks through bookings.services first.
- Statuses never move backwards: a late ``payment_failed`` after ``succeeded``
  changes nothing, a confirmed booking never returns to pending.
- Card testing: each failed card attempt on a booking's intent is counted once
  on its Payment (keyed by Stripe's failed charge, so the confirm answer and the
  ``payment_failed`` webhook of one attempt count once). After
  ``MAX_FAILED_ATTEMPTS`` the booking's card is refused (409 ``too_many_attempts``)
  and the intent is cancelled at Stripe, so a client secret already handed out
  cannot try more cards.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from bookings.models import Booking, BookingStatus
from bookwise import outbox
from bookwise.errors import DomainError, InvalidInput
from bookwise.transactions import require_atomic
from payments.gateway import StripeUnavailable, error_text, is_transient, stripe_client
from payments.ledger import ledger_record_charge, ledger_record_refund
from payments.models import Payment, PaymentStatus, Refund, RefundStatus
from payments.stripe_setup import ensure_local_card_payment_method
from payments.transfers import transfer_clear_for_refund

logger = logging.getLogger(__name__)

# First key of pg_advisory_xact_lock(int, int): "creating the PaymentIntent of booking <second key>".
INTENT_LOCK_NAMESPACE = 0x426B5049  # "BkPI"

# Our payment statuses from which Stripe may still move the intent on.
_AWAITING = (PaymentStatus.CREATING, PaymentStatus.REQUIRES_PAYMENT, PaymentStatus.PROCESSING, PaymentStatus.FAILED)
# Intent statuses that still wait for the customer's card.
_AWAITING_PAYMENT = {"requires_payment_method", "requires_confirmation", "requires_action"}
# Failed card attempts after which a booking's card is refused (card testing).
MAX_FAILED_ATTEMPTS = 5
# Dispatched by name through bookwise.outbox: a services module imports no tasks module.
PROCESS_REFUND_TASK = "payments.tasks.process_refund"


# --- Stripe access ------------------------------------------------------------------------


def intent_idempotency_key(booking_id: int) -> str:
    return f"booking-{booking_id}-intent"


def refund_idempotency_key(booking_id: int) -> str:
    return f"booking-{booking_id}-refund"


# --- Creating the PaymentIntent -----------------------------------------------------------


@dataclass(frozen=True)
class IntentResult:
    payment: Payment
    created: bool  # True: answer 201 (this request created the intent, or replays the request that did)


def _check_payable(booking: Booking, now: datetime) -> None:
    if booking.status != BookingStatus.PENDING_PAYMENT:
        raise DomainError("not_payable", f"A {booking.get_status_display().lower()} booking cannot be paid.")
    if booking.expires_at is not None and booking.expires_at <= now:
        raise DomainError("not_payable", "This hold has expired: book the slot again.")
    if booking.amount <= 0:
        raise DomainError("not_payable", "This booking has nothing to pay.")


def _check_attempts_left(payment: Payment | None) -> None:
    if payment is not None and payment.failed_attempts >= MAX_FAILED_ATTEMPTS:
        raise DomainError(
            "too_many_attempts",
            "Payment was refused too many times for this booking, so it can no longer be paid by card. "
            "Book the slot again later.",
        )


def payment_intent_for_booking(
    *, booking_id: int, customer: User, client_key: str = "", now: datetime | None = None
) -> IntentResult:
    """Create, or return, the one PaymentIntent of the customer's pending booking.

    Raises DomainError not_found (404: not the caller's booking), not_payable,
    idempotency_key_reused (409), payment_provider_unavailable (503: Stripe
    unreachable or slow; retrying the request is safe) and payment_provider_error
    (502: Stripe refused the request).

    Why it cannot charge twice, also under concurrent requests:

    1. A short transaction locks the booking row, checks that it is payable and
       gets or creates its Payment row (status ``creating``, idempotency key
       ``booking-<id>-intent``). The one-to-one constraint makes that row the
       arbiter; the transaction commits before Stripe is called.
    2. If the row has no intent yet, a second transaction takes the PostgreSQL
       advisory lock ``(INTENT_LOCK_NAMESPACE, booking id)``, re-reads the row and,
       only if the intent is still missing, calls Stripe with the deterministic
       idempotency key, then stores the intent id and client secret.

    The advisory lock is the one deliberate exception to "nothing leaves the
    process inside a lock": it holds no row lock (the booking row is free for
    the webhook, the expiry sweep and cancellations), only requests creating
    this same booking's intent wait for it, and it is bounded by
    STRIPE_TIMEOUT_SECONDS (waiters give up with a 503 after lock_timeout). It is
    needed because the deterministic key alone is not enough: Stripe answers a
    concurrent request with the same key with an error rather than the same
    intent, and localstripe ignores idempotency keys altogether. If the process
    dies mid-call the lock dies with its connection; the row stays ``creating``
    with ``last_error`` set and the next request retries with the same key
    (Stripe then returns the intent it may already have created).
    """
    now = now or timezone.now()
    scoped_key = f"{customer.pk}:{client_key}" if client_key else ""
    with transaction.atomic():
        booking = Booking.objects.select_for_update(of=("self",)).filter(pk=booking_id, customer_id=customer.pk).first()
        if booking is None:
            raise DomainError("not_found", "No such booking.", http_status=404)
        if (
            scoped_key
            and Payment.objects.filter(client_idempotency_key=scoped_key).exclude(booking_id=booking.pk).exists()
        ):
            raise DomainError("idempotency_key_reused", "This Idempotency-Key was already used for another booking.")
        _check_payable(booking, now)
        payment = Payment.objects.filter(booking=booking).first()
        _check_attempts_left(payment)
        if payment is None:
            try:
                with transaction.atomic():
                    payment = Payment.objects.create(
                        booking=booking,
                        amount=booking.amount,
                        currency=booking.currency,
                        status=PaymentStatus.CREATING,
                        idempotency_key=intent_idempotency_key(booking.pk),
                        client_idempotency_key=scoped_key,
                    )
            except IntegrityError:
                # The booking row lock serialises this booking's requests, so only
                # the client's key can clash: a concurrent request used it for another booking.
                raise DomainError(
                    "idempotency_key_reused", "This Idempotency-Key was already used for another booking."
                ) from None
    replay = bool(scoped_key) and payment.client_idempotency_key == scoped_key
    if payment.stripe_payment_intent_id:
        return IntentResult(payment=payment, created=replay)
    result = _payment_create_intent(payment_id=payment.pk, now=now)
    return IntentResult(payment=result.payment, created=result.created or replay)


def _payment_create_intent(*, payment_id: int, now: datetime) -> IntentResult:
    """Call Stripe for a Payment row still ``creating``. Caller holds no lock."""
    booking_id = Payment.objects.values_list("booking_id", flat=True).get(pk=payment_id)
    error: stripe.StripeError | None = None
    try:
        with transaction.atomic():
            _advisory_xact_lock(booking_id, wait_seconds=settings.STRIPE_TIMEOUT_SECONDS + 2)
            # READ COMMITTED: this read sees the intent id a request before us stored.
            payment = Payment.objects.get(pk=payment_id)
            if payment.stripe_payment_intent_id:
                return IntentResult(payment=payment, created=False)
            try:
                intent = stripe_client().v1.payment_intents.create(
                    params={
                        "amount": payment.amount,
                        "currency": payment.currency,
                        "payment_method_types": ["card"],
                        "metadata": {"booking_id": str(booking_id)},
                    },
                    options={"idempotency_key": payment.idempotency_key},
                )
            except stripe.StripeError as exc:
                error = exc
                Payment.objects.filter(pk=payment_id).update(last_error=error_text(exc), updated_at=now)
            else:
                payment = Payment.objects.select_for_update().get(pk=payment_id)
                _adopt_intent(payment, {"id": intent.id, "client_secret": intent.client_secret})
                if payment.last_error:
                    payment.last_error = ""
                    payment.save(update_fields=["last_error", "updated_at"])
                return IntentResult(payment=payment, created=True)
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        logger.warning("payment %s: gave up waiting for the intent creation lock", payment_id)
        raise DomainError(
            "payment_provider_unavailable",
            "The payment provider is slow to answer right now. Try again in a moment.",
            http_status=503,
        ) from None
    logger.warning("payment %s: Stripe refused to create the intent: %s", payment_id, error)
    if is_transient(error):
        raise DomainError(
            "payment_provider_unavailable",
            "The payment provider cannot be reached right now. Try again in a moment.",
            http_status=503,
        ) from error
    raise DomainError(
        "payment_provider_error", "The payment provider refused to create this payment.", http_status=502
    ) from error


def _advisory_xact_lock(booking_id: int, *, wait_seconds: float) -> None:
    """Take the transaction-scoped advisory lock "creating the intent of this booking".

    Waits at most `wait_seconds` (then OperationalError, SQLSTATE 55P03). Two
    bookings whose ids differ by 2**31 share a lock: they only wait for each other.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        (previous,) = cursor.fetchone()
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(wait_seconds * 1000)}ms"])
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [INTENT_LOCK_NAMESPACE, booking_id % 2**31])
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


# --- Paying with a card token (the portal's checkout page) ---------------------------------

# A card token from Stripe.js `createToken` (`tok_` + Stripe's id alphabet); the
# length cap keeps the idempotency keys built from it under Stripe's 255 characters.
_CARD_TOKEN = re.compile(r"tok_[A-Za-z0-9_]{1,200}")
# Intent statuses in which the money is taken or on its way: no card is attached any more.
_PAID_OR_PAYING = frozenset({"succeeded", "processing", "requires_capture"})


@dataclass(frozen=True)
class PaymentIntentState:
    """What the checkout page needs after a card was tried: Stripe's intent status, and whether 3-D Secure waits."""

    status: str
    client_secret: str
    requires_action: bool  # the browser finishes 3-D Secure with Stripe.js and the client secret


def confirm_idempotency_key(booking_id: int, token_id: str) -> str:
    return f"booking-{booking_id}-confirm-{token_id}"


def payment_confirm_card(
    *, booking_id: int, customer: User, token_id: str, now: datetime | None = None
) -> PaymentIntentState:
    """Pay the customer's pending booking with a card token from Stripe.js (``stripe.createToken``).

    Gets or creates the booking's one PaymentIntent (:func:`payment_intent_for_booking`:
    owner check, payable check), then attaches the token's card and confirms
    the intent at Stripe, server-side. Holds no database lock while Stripe is
    called (STYLE rule 4): the only writes are at Stripe.

    The booking is *not* confirmed here: the ``payment_intent.succeeded``
    webhook (or the reconciliation sweep) does that through
    ``checkout.services.payment_intent_apply``, the one place that moves
    bookings on payment.
    The caller polls the booking's status.

    Why it cannot charge twice: a booking has exactly one PaymentIntent and an
    intent succeeds at most once, whatever the number of cards tried on it.
    Every Stripe write carries a key derived from the booking and the token
    (``booking-<id>-confirm-<token>``, plus ``-method``/``-attach`` for the
    preparatory writes), so a retried request replays Stripe's first answer; a
    token is single-use at Stripe, so a new attempt always brings a new token
    and new keys. An intent already paid or being paid is answered as it is,
    without attaching anything (a double click, a second tab).

    Raises DomainError: not_found (404), not_payable (409), invalid_token (400),
    card_declined (402: the card was refused; the booking stays pending until
    its hold runs out, another card may be tried), too_many_attempts (409: the
    card was refused MAX_FAILED_ATTEMPTS times on this booking),
    payment_provider_unavailable (503: retrying is safe) and
    payment_provider_error (502).

    402 rather than 409 for a refused card: nothing about the booking
    conflicts; the payment itself was refused, which is what 402 Payment
    Required means and what Stripe answers for card errors.
    """
    now = now or timezone.now()
    if not _CARD_TOKEN.fullmatch(token_id or ""):
        raise InvalidInput("invalid_token", "The card details did not come through. Enter them again.", field="token")
    payment = payment_intent_for_booking(booking_id=booking_id, customer=customer, now=now).payment
    intent_id = payment.stripe_payment_intent_id
    client = stripe_client()
    try:
        intent = client.v1.payment_intents.retrieve(intent_id)
        if intent.status == "canceled":
            raise DomainError("not_payable", "This payment was cancelled. Book the slot again.")
        if intent.status not in _PAID_OR_PAYING:
            intent = _attach_card_and_confirm(
                client, intent_id=intent_id, token_id=token_id, key=confirm_idempotency_key(booking_id, token_id)
            )
    except stripe.CardError as exc:
        # Stripe (and localstripe) also send payment_intent.payment_failed for
        # this attempt: both name the same failed charge, so it counts once.
        logger.info("booking %s: card refused: %s", booking_id, exc)
        key = _failure_key(_error_object(exc)) or f"confirm:{confirm_idempotency_key(booking_id, token_id)}"
        if payment_record_card_failure(payment_id=payment.pk, key=key):
            payment_cancel_blocked_intent(payment_id=payment.pk)
        raise DomainError("card_declined", exc.user_message or "Your card was declined.", http_status=402) from exc
    except stripe.StripeError as exc:
        Payment.objects.filter(pk=payment.pk).update(last_error=error_text(exc), updated_at=now)
        logger.warning("booking %s: Stripe refused the card payment: %s", booking_id, exc)
        if is_transient(exc):
            raise DomainError(
                "payment_provider_unavailable",
                "The payment provider cannot be reached right now. Try again in a moment.",
                http_status=503,
            ) from exc
        if isinstance(exc, stripe.InvalidRequestError) and exc.code in ("resource_missing", "token_already_used"):
            raise InvalidInput(
                "invalid_token",
                "These card details were already used or have expired. Enter them again.",
                field="token",
            ) from exc
        raise DomainError(
            "payment_provider_error",
            "The payment provider refused this payment. Reload the page and try again.",
            http_status=502,
        ) from exc
    return PaymentIntentState(
        status=intent.status,
        client_secret=intent.client_secret or payment.client_secret,
        requires_action=intent.status == "requires_action",
    )


def _error_object(exc: stripe.StripeError) -> Mapping[str, Any]:
    """The ``error`` object of Stripe's answer, {} when there is none (the SDK types ``json_body`` as object)."""
    body = exc.json_body
    error = body.get("error") if isinstance(body, Mapping) else None
    return error if isinstance(error, Mapping) else {}


def _talks_to_localstripe() -> bool:
    """``STRIPE_API_HOST`` is set only to point at localstripe (development, tests); empty means api.stripe.com."""
    return bool(getattr(settings, "STRIPE_API_HOST", ""))


def _attach_card_and_confirm(client: stripe.StripeClient, *, intent_id: str, token_id: str, key: str) -> Any:
    """Attach a card token to the intent and confirm it. Raises stripe.CardError when the card is refused.

    Stripe: the token becomes a PaymentMethod (``card[token]``, the API's
    documented way to turn a legacy token into a PaymentMethod), and one
    ``confirm`` attaches and charges it. ``use_stripe_sdk`` asks for a
    ``next_action`` that Stripe.js handles in the browser (3-D Secure) for an
    intent confirmed server-side; the intent's automatic confirmation method
    means no second server-side confirm is needed after it.

    localstripe implements neither ``card[token]`` nor ``confirm`` with a
    payment method (nor ``use_stripe_sdk``), but accepts a token's Card id
    (``card_...``) as an intent's payment method: read the token, set the
    intent's payment method, confirm. Same outcomes (succeeded, 402 card
    error, requires_action for 3-D Secure test cards), same keys. dj-stripe is
    first told about that card as Stripe would describe it
    (``stripe_setup.ensure_local_card_payment_method``), or it would refuse
    the webhooks that follow.
    """
    if _talks_to_localstripe():
        token_card = client.v1.tokens.retrieve(token_id).card
        if token_card is None:  # not a card token (the checkout page only makes card tokens)
            raise InvalidInput(
                "invalid_token", "The card details did not come through. Enter them again.", field="token"
            )
        card = token_card.to_dict()
        ensure_local_card_payment_method(card)
        client.v1.payment_intents.update(
            intent_id, params={"payment_method": card["id"]}, options={"idempotency_key": f"{key}-attach"}
        )
        return client.v1.payment_intents.confirm(intent_id, options={"idempotency_key": key})
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"token": token_id}}, options={"idempotency_key": f"{key}-method"}
    )
    return client.v1.payment_intents.confirm(
        intent_id,
        params={"payment_method": method.id, "use_stripe_sdk": True},
        options={"idempotency_key": key},
    )


# --- Applying Stripe's view of a PaymentIntent (webhooks, reconciliation) -------------------


class ApplyOutcome:
    IGNORED = "ignored"  # not one of our intents
    UNCHANGED = "unchanged"
    CONFIRMED = "confirmed"  # bookings.services.ConfirmOutcome.CONFIRMED, answered by checkout.services
    ALREADY_CONFIRMED = "already_confirmed"  # likewise
    # payment_apply_intent's answer when the money is in: checkout.services now confirms the booking.
    SUCCEEDED = "succeeded"
    REFUND = "refund"  # paid, but refunded (late payment with the seats gone, or cancelled booking)
    FAILED = "failed"
    PROCESSING = "processing"
    CANCELED = "canceled"
    MISMATCH = "mismatch"  # Stripe says succeeded, but not for this payment's amount, currency or mode


def payment_id_for_intent(*, intent: Mapping[str, Any]) -> int | None:
    """Our Payment for this intent: by intent id, else by metadata for a row whose intent id was never stored."""
    intent_id = intent.get("id") or ""
    payment_id = Payment.objects.filter(stripe_payment_intent_id=intent_id).values_list("pk", flat=True).first()
    if payment_id is not None or not intent_id:
        return payment_id
    booking_id = str((intent.get("metadata") or {}).get("booking_id") or "")
    amount = intent.get("amount")
    if not booking_id.isdigit() or not isinstance(amount, int):
        return None
    return (
        Payment.objects.filter(booking_id=int(booking_id), stripe_payment_intent_id="", amount=amount)
        .values_list("pk", flat=True)
        .first()
    )


@dataclass(frozen=True)
class IntentRead:
    """A PaymentIntent as Stripe shows it now, or (``intent`` None) the outcome to answer instead."""

    intent: dict[str, Any] | None
    reported_failure: str = ""  # see _confirmed_reported_failure
    outcome: str = ""


def payment_read_intent_event(*, payment_id: int, payload: Mapping[str, Any], now: datetime) -> IntentRead:
    """Re-read the intent a verified ``payment_intent.*`` webhook names, as Stripe shows it now.

    The payload only names the intent (and, for a failure, the attempt that
    failed); the intent is re-read with our own client (STRIPE_TIMEOUT_SECONDS).
    Raises StripeUnavailable when Stripe cannot be reached: the webhook fails
    (503), dj-stripe keeps nothing and Stripe delivers the event again;
    reconciliation re-reads the intent meanwhile. A refusal is noted on the
    payment and answered as ``unchanged``.
    """
    client = stripe_client()
    try:
        current = client.v1.payment_intents.retrieve(str(payload["id"])).to_dict()
        reported_failure = _confirmed_reported_failure(client, payload=payload, current=current)
    except stripe.StripeError as exc:
        return IntentRead(
            intent=None,
            outcome=_stripe_read_failed(exc, payment_id=payment_id, what=f"intent {payload.get('id')}", now=now),
        )
    return IntentRead(intent=current, reported_failure=reported_failure)


def _confirmed_reported_failure(
    client: stripe.StripeClient, *, payload: Mapping[str, Any], current: Mapping[str, Any]
) -> str:
    """The failed attempt a ``payment_failed`` payload reports, when it is not the intent's latest one.

    Stripe's intent only shows its latest failure; when several attempts failed
    before this event is processed, the earlier one is counted only if Stripe
    confirms it: a failed charge of this very intent.
    """
    key = _failure_key(payload.get("last_payment_error") or {})
    if not key.startswith("charge:") or key == _failure_key(current.get("last_payment_error") or {}):
        return ""
    charge = client.v1.charges.retrieve(key.removeprefix("charge:")).to_dict()
    if _intent_id_of(charge) == current.get("id") and charge.get("status") == "failed":
        return key
    return ""


def _stripe_read_failed(exc: stripe.StripeError, *, payment_id: int, what: str, now: datetime) -> str:
    """A webhook could not re-read its object: transient -> StripeUnavailable (delivered again), else noted."""
    if is_transient(exc):
        logger.warning("payment %s: cannot read %s from Stripe, the webhook will come again: %s", payment_id, what, exc)
        raise StripeUnavailable(str(exc)) from exc
    logger.error("payment %s: Stripe refused to show %s; nothing applied: %s", payment_id, what, exc)
    Payment.objects.filter(pk=payment_id).update(last_error=error_text(exc), updated_at=now)
    return ApplyOutcome.UNCHANGED


def _intent_id_of(charge: Mapping[str, Any]) -> str:
    intent = charge.get("payment_intent") or ""
    return str(intent.get("id", "")) if isinstance(intent, Mapping) else str(intent)  # expanded or not


def payment_apply_intent(
    *, payment_id: int, intent: Mapping[str, Any], now: datetime, reported_failure: str = ""
) -> str:
    """Apply the state of a PaymentIntent as read from Stripe to its payment. Idempotent.

    Never pass a webhook payload here: :func:`payment_read_intent_event` re-reads it first.
    ``succeeded`` marks the payment succeeded when Stripe received this
    payment's amount in its currency and mode, and answers ``succeeded``: the
    caller (checkout.services.payment_intent_apply) then confirms the booking
    or refunds; ``refund`` when a refund was already decided for this money;
    otherwise the mismatch is noted on the payment and nothing is confirmed. A
    failure is recorded on the payment (and counted, see MAX_FAILED_ATTEMPTS)
    and leaves the booking pending until its hold expires. Nothing ever moves
    backwards, so duplicate and out-of-order deliveries are harmless.

    Caller holds the transaction and, for a succeeded intent, the slot and
    booking row locks (bookings.services.booking_lock_with_slot); the payment
    row is locked here, after them.
    """
    require_atomic()
    status = intent.get("status")
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    _adopt_intent(payment, intent)
    blocked = False
    for key in (reported_failure, _failure_key(intent.get("last_payment_error") or {})):
        blocked = _count_failure(payment, key) or blocked
    if blocked:
        transaction.on_commit(lambda: payment_cancel_blocked_intent(payment_id=payment_id))
    if status == "succeeded":
        mismatch = _paid_intent_mismatch(payment, intent)
        if mismatch:
            logger.error("payment %s: %s; nothing confirmed", payment.pk, mismatch)
            if payment.last_error != mismatch:
                payment.last_error = mismatch
                payment.save(update_fields=["last_error", "updated_at"])
            return ApplyOutcome.MISMATCH
        return _mark_succeeded(payment, now, intent=intent)
    if status == "canceled":
        return _move(payment, PaymentStatus.CANCELED, allowed_from=_AWAITING)
    if status == "processing":
        return _move(payment, PaymentStatus.PROCESSING, allowed_from=_AWAITING)
    if status in _AWAITING_PAYMENT and intent.get("last_payment_error"):
        error = intent["last_payment_error"]
        message = (error.get("message") or error.get("code") or "The payment failed.")[:2000]
        return _move(payment, PaymentStatus.FAILED, allowed_from=_AWAITING, last_error=message)
    return ApplyOutcome.UNCHANGED


def _paid_intent_mismatch(payment: Payment, intent: Mapping[str, Any]) -> str:
    """Why a succeeded intent does not pay this payment ("" when it does): amount received, currency, mode."""
    problems = []
    received = _amount_received(intent)
    if received != payment.amount:
        problems.append(f"amount_received {received}, expected {payment.amount}")
    currency = str(intent.get("currency") or "").lower()
    if currency != payment.currency.lower():
        problems.append(f"currency {currency or '?'}, expected {payment.currency.lower()}")
    if bool(intent.get("livemode")) != settings.STRIPE_LIVE_MODE:
        problems.append(f"livemode {bool(intent.get('livemode'))}, expected {settings.STRIPE_LIVE_MODE}")
    if not problems:
        return ""
    return f"Stripe's succeeded intent {intent.get('id')} does not pay this booking: {'; '.join(problems)}."


def _amount_received(intent: Mapping[str, Any]) -> int:
    if intent.get("amount_received") is not None:
        return int(intent["amount_received"])
    if _talks_to_localstripe():
        # localstripe's intents have no amount_received (Stripe's always do):
        # there, what was received is the intent's succeeded, captured charge.
        charge = intent.get("latest_charge")
        if isinstance(charge, Mapping) and charge.get("status") == "succeeded" and charge.get("captured"):
            return int(charge.get("amount") or 0)
    return 0


# --- Counting failed card attempts (card testing) -------------------------------------------


def _failure_key(error: Mapping[str, Any]) -> str:
    """One failed card attempt as Stripe names it: its failed charge, else the refused payment method and code."""
    charge = error.get("charge")
    charge_id = charge.get("id") if isinstance(charge, Mapping) else charge
    if charge_id:
        return f"charge:{charge_id}"[:255]
    method = error.get("payment_method")
    method_id = method.get("id") if isinstance(method, Mapping) else method
    if method_id:
        return f"pm:{method_id}:{error.get('code') or ''}"[:255]
    return ""


def _count_failure(payment: Payment, key: str) -> bool:
    """Count a failed attempt once. Caller holds the payment row lock. True when this one used up the attempts."""
    if not key or key in payment.failure_keys:
        return False
    payment.failure_keys = [*payment.failure_keys, key]
    payment.failed_attempts = min(len(payment.failure_keys), 32767)
    payment.save(update_fields=["failure_keys", "failed_attempts", "updated_at"])
    if payment.failed_attempts >= MAX_FAILED_ATTEMPTS:
        logger.warning("payment %s: %s failed card attempts, card refused", payment.pk, payment.failed_attempts)
        return True
    return False


def payment_record_card_failure(*, payment_id: int, key: str) -> bool:
    """Count a card refused while confirming (``payment_confirm_card``). True when the attempts are used up."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        return _count_failure(payment, key)


def payment_cancel_blocked_intent(*, payment_id: int) -> None:
    """Cancel at Stripe the intent of a payment whose card attempts are used up. Best effort, holds no lock.

    So that a client secret already handed out (``payments/create``) cannot be
    used to try more cards with Stripe.js. A failure is only logged:
    reconciliation (``checkout.services.payment_reconcile``) tries again.
    """
    payment = Payment.objects.filter(pk=payment_id).first()
    if (
        payment is None
        or payment.failed_attempts < MAX_FAILED_ATTEMPTS
        or not payment.stripe_payment_intent_id
        or payment.status not in _AWAITING
    ):
        return
    try:
        intent = stripe_client().v1.payment_intents.cancel(
            payment.stripe_payment_intent_id, options={"idempotency_key": f"booking-{payment.booking_id}-cancel"}
        )
    except stripe.StripeError as exc:
        logger.warning("payment %s: could not cancel the intent after too many failed attempts: %s", payment_id, exc)
        return
    # Stripe answers a cancel with a `canceled` intent: a payment matter only, no booking moves.
    with transaction.atomic():
        payment_apply_intent(payment_id=payment_id, intent=intent.to_dict(), now=timezone.now())


def _adopt_intent(payment: Payment, intent: Mapping[str, Any]) -> None:
    """Store the intent id on a row still ``creating`` (Stripe answered but the row was never updated)."""
    if payment.stripe_payment_intent_id:
        return
    payment.stripe_payment_intent_id = intent["id"]
    payment.client_secret = intent.get("client_secret") or ""
    fields = ["stripe_payment_intent_id", "client_secret", "updated_at"]
    if payment.status == PaymentStatus.CREATING:
        payment.status = PaymentStatus.REQUIRES_PAYMENT
        fields.append("status")
    payment.save(update_fields=fields)


def _move(payment: Payment, to: PaymentStatus, *, allowed_from: tuple[str, ...], last_error: str | None = None) -> str:
    """Guarded payment status move. Caller holds the payment row lock."""
    if payment.status == to and last_error in (None, payment.last_error):
        return ApplyOutcome.UNCHANGED
    if payment.status not in allowed_from:
        return ApplyOutcome.UNCHANGED
    payment.status = to
    fields = ["status", "updated_at"]
    if last_error is not None:
        payment.last_error = last_error
        fields.append("last_error")
    payment.save(update_fields=fields)
    return {
        PaymentStatus.FAILED: ApplyOutcome.FAILED,
        PaymentStatus.PROCESSING: ApplyOutcome.PROCESSING,
        PaymentStatus.CANCELED: ApplyOutcome.CANCELED,
    }[to]


def _charge_id_of(intent: Mapping[str, Any]) -> str:
    """The intent's charge (``latest_charge``: an id, or the expanded object localstripe sends)."""
    charge = intent.get("latest_charge") or ""
    return str(charge.get("id") or "") if isinstance(charge, Mapping) else str(charge)


def _mark_succeeded(payment: Payment, now: datetime, *, intent: Mapping[str, Any]) -> str:
    """Caller holds the slot, booking and payment row locks, in that order.

    Also keeps the intent's charge (the source of the merchant's transfer) and
    records the charge and the platform fee in the ledger (payments.ledger),
    at the merchant's fee now; both idempotent.
    """
    if payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
        payment.status = PaymentStatus.SUCCEEDED
        payment.succeeded_at = now
        payment.last_error = ""
        payment.save(update_fields=["status", "succeeded_at", "last_error", "updated_at"])
    charge_id = _charge_id_of(intent)
    if charge_id and not payment.stripe_charge_id:
        payment.stripe_charge_id = charge_id
        payment.save(update_fields=["stripe_charge_id", "updated_at"])
    ledger_record_charge(payment=payment, now=now)
    if payment.refunds.exists():
        # A refund was already decided for this money (late payment, cancellation):
        # never confirm the booking behind it, even if seats have freed up since.
        return ApplyOutcome.REFUND
    return ApplyOutcome.SUCCEEDED


def payment_apply_charge_event(*, charge: Mapping[str, Any], now: datetime | None = None) -> str:
    """A verified ``charge.refunded`` webhook: re-read the charge and its refunds from Stripe and record that.

    The payload only names the charge. Raises StripeUnavailable when Stripe
    cannot be reached (the webhook answers 503 and comes again).
    """
    now = now or timezone.now()
    intent_id = _intent_id_of(charge)
    payment_id = Payment.objects.filter(stripe_payment_intent_id=intent_id or "-").values_list("pk", flat=True).first()
    if payment_id is None:
        logger.info("ignoring charge %s: no payment of ours", charge.get("id"))
        return ApplyOutcome.IGNORED
    try:
        current = stripe_client().v1.charges.retrieve(str(charge["id"]), params={"expand": ["refunds"]}).to_dict()
    except stripe.StripeError as exc:
        return _stripe_read_failed(exc, payment_id=payment_id, what=f"charge {charge.get('id')}", now=now)
    if _intent_id_of(current) != intent_id or bool(current.get("livemode")) != settings.STRIPE_LIVE_MODE:
        logger.error("payment %s: charge %s at Stripe is not this payment's; nothing applied", payment_id, charge["id"])
        return ApplyOutcome.IGNORED
    return payment_apply_charge_refunded(charge=current)


def payment_apply_charge_refunded(*, charge: Mapping[str, Any]) -> str:
    """Record a charge as read from Stripe: our refunds succeeded, or someone refunded in Stripe's dashboard."""
    intent_id = _intent_id_of(charge)
    payment_id = Payment.objects.filter(stripe_payment_intent_id=intent_id or "-").values_list("pk", flat=True).first()
    if payment_id is None:
        logger.info("ignoring charge %s: no payment of ours", charge.get("id"))
        return ApplyOutcome.IGNORED
    refunded_amount = int(charge.get("amount_refunded") or 0)
    fully = bool(charge.get("refunded")) or refunded_amount >= int(charge.get("amount") or 0) > 0
    stripe_refunds = [r for r in ((charge.get("refunds") or {}).get("data") or []) if isinstance(r, Mapping)]
    stripe_ids = [str(r["id"]) for r in stripe_refunds if r.get("id")]
    changed = False
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        refunds = list(payment.refunds.select_for_update().order_by("pk"))
        known_ids = {r.stripe_refund_id for r in refunds if r.stripe_refund_id}
        unknown_ids = [i for i in stripe_ids if i not in known_ids]
        for refund in refunds:
            if refund.status == RefundStatus.SUCCEEDED:
                continue
            if refund.stripe_refund_id in stripe_ids or fully:
                refund.status = RefundStatus.SUCCEEDED
                refund.last_error = ""
                if not refund.stripe_refund_id and len(unknown_ids) == 1:
                    refund.stripe_refund_id = unknown_ids.pop()
                refund.save(update_fields=["status", "last_error", "stripe_refund_id", "updated_at"])
                changed = True
        if fully and not refunds:
            # Refunded outside BookWise: record it, so that a later cancellation
            # finds the refund done instead of asking Stripe for a second one.
            outside = Refund.objects.create(
                payment=payment,
                amount=refunded_amount or payment.amount,
                reason="refunded_at_stripe",
                status=RefundStatus.SUCCEEDED,
                stripe_refund_id=unknown_ids[0] if len(unknown_ids) == 1 else "",
                idempotency_key=refund_idempotency_key(payment.booking_id),
            )
            if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED) and outside.amount <= payment.amount:
                ledger_record_refund(refund=outside)
            changed = True
        if fully and payment.status == PaymentStatus.SUCCEEDED:
            payment.status = PaymentStatus.REFUNDED
            payment.save(update_fields=["status", "updated_at"])
            changed = True
    return "refunded" if changed else ApplyOutcome.UNCHANGED


def payment_read_intent(*, payment_id: int, now: datetime) -> IntentRead:
    """Re-read a payment's intent from Stripe (reconciliation). Raises StripeUnavailable.

    ``ignored`` when the payment has no intent yet; a refusal is noted on the
    payment and answered as ``unchanged``.
    """
    intent_id = Payment.objects.filter(pk=payment_id).values_list("stripe_payment_intent_id", flat=True).first()
    if not intent_id:
        return IntentRead(intent=None, outcome=ApplyOutcome.IGNORED)
    try:
        intent = stripe_client().v1.payment_intents.retrieve(intent_id)
    except stripe.StripeError as exc:
        Payment.objects.filter(pk=payment_id).update(last_error=error_text(exc), updated_at=now)
        if is_transient(exc):
            raise StripeUnavailable(str(exc)) from exc
        logger.error("payment %s: cannot read intent %s from Stripe: %s", payment_id, intent_id, exc)
        return IntentRead(intent=None, outcome=ApplyOutcome.UNCHANGED)
    return IntentRead(intent=intent.to_dict())


def payment_sync_finish(*, payment_id: int, intent: Mapping[str, Any], outcome: str, now: datetime) -> None:
    """After a reconciliation applied `intent`: mark the payment checked, cancel an intent whose attempts ran out."""
    if outcome in (ApplyOutcome.UNCHANGED, ApplyOutcome.MISMATCH):
        # Mark it checked, so the next sweep looks at the others first.
        Payment.objects.filter(pk=payment_id).update(updated_at=now)
    if intent.get("status") in _AWAITING_PAYMENT:
        # The card attempts may be used up while the cancel after the last one failed.
        payment_cancel_blocked_intent(payment_id=payment_id)


def payment_mark_sync_failed(*, payment_id: int, error: str) -> None:
    """Final failure of a reconciliation: leave a note an admin sees on the payment."""
    Payment.objects.filter(pk=payment_id).update(last_error=f"reconciliation failed: {error}"[:2000])


# --- Refunds ------------------------------------------------------------------------------


def _refund_record(*, payment: Payment, reason: str, amount: int | None = None) -> Refund | None:
    """Record the booking's refund of `payment` and send it after commit. One per booking (deterministic key).

    `amount`: minor units (a cancellation policy's share); None for all that
    is left of the payment. Never more than what is left (a reschedule may
    have refunded a part already). A refund already recorded under the key is
    returned as it is; None when nothing is left to refund. Caller holds the
    payment row lock inside a transaction.
    """
    require_atomic()
    existing = Refund.objects.filter(idempotency_key=refund_idempotency_key(payment.booking_id)).first()
    if existing is not None:
        return existing
    left = payment.amount - _refunded_total(payment)
    amount = left if amount is None else min(amount, left)
    if amount <= 0:
        return None
    refund = Refund.objects.create(
        payment=payment, amount=amount, reason=reason, idempotency_key=refund_idempotency_key(payment.booking_id)
    )
    ledger_record_refund(refund=refund)  # the refund and the fee share it gives back, in this transaction
    outbox.enqueue(PROCESS_REFUND_TASK, refund.pk)  # sent after commit, even if the broker is down then
    return refund


def _refunded_total(payment: Payment, *, status: str | None = None) -> int:
    """Minor units of `payment` recorded as refunded (all refunds, or those in `status`)."""
    refunds = payment.refunds.all() if status is None else payment.refunds.filter(status=status)
    total: int = refunds.aggregate(total=Coalesce(Sum("amount"), 0))["total"]
    return total


def reschedule_refund_idempotency_key(booking_id: int, sequence: int) -> str:
    """The key of the refund of a reschedule's price difference: one per move (the booking's ics_sequence after it)."""
    return f"booking-{booking_id}-reschedule-{sequence}"


def payment_refund_part_for_booking(*, booking_id: int, amount: int, key: str, reason: str) -> Refund | None:
    """Record a refund of `amount` of the booking's succeeded payment under `key`; Stripe is called after commit.

    For a part of the money only (checkout.services.booking_reschedule: the
    price difference of a move to a cheaper time), next to the one
    cancellation refund (`refund_idempotency_key`). The ledger gets the refund
    and its fee share in this transaction. Caller holds the booking row lock
    inside a transaction. Returns None when nothing was paid or when `amount`
    is more than what is left of the payment. Idempotent per `key`.
    """
    require_atomic()
    payment = Payment.objects.select_for_update().filter(booking_id=booking_id).first()
    if payment is None or payment.status != PaymentStatus.SUCCEEDED or amount <= 0:
        return None
    existing = Refund.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    if amount > payment.amount - _refunded_total(payment):
        return None
    refund = Refund.objects.create(payment=payment, amount=amount, reason=reason, idempotency_key=key)
    ledger_record_refund(refund=refund)  # the refund and the fee share it gives back, in this transaction
    outbox.enqueue(PROCESS_REFUND_TASK, refund.pk)  # sent after commit, even if the broker is down then
    return refund


def payment_refund_record(*, payment_id: int, reason: str) -> Refund | None:
    """Record a full refund of a payment the booking cannot take (late payment, cancelled booking).

    Caller holds the transaction in which :func:`payment_apply_intent` answered
    ``succeeded`` and the booking refused the money (checkout.services).
    """
    require_atomic()
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    return _refund_record(payment=payment, reason=reason)


def payment_refund_for_booking(*, booking_id: int, reason: str, amount: int | None = None) -> Refund | None:
    """Record the refund of the booking's succeeded payment; Stripe is called after commit.

    `amount`: the minor units to refund (a cancellation policy's share, e.g.
    50 %); None refunds all that is left. Caller holds the booking row lock
    inside a transaction. Returns None when nothing was paid (or is left).
    Idempotent: one such refund per booking (deterministic key
    ``booking-<id>-refund``).
    """
    require_atomic()
    payment = Payment.objects.select_for_update().filter(booking_id=booking_id).first()
    if payment is None or payment.status != PaymentStatus.SUCCEEDED:
        return None
    return _refund_record(payment=payment, reason=reason, amount=amount)


def payment_refunded_total(*, booking_id: int) -> int:
    """Minor units recorded as refunded of the booking's payment (every refund, any status): its `refunded_amount`.

    Read in the transaction that recorded a refund, under the payment row lock.
    """
    payment = Payment.objects.filter(booking_id=booking_id).first()
    return 0 if payment is None else _refunded_total(payment)


def refund_process(*, refund_id: int) -> Refund | None:
    """Send a recorded refund to Stripe and record the answer. Idempotent; raises StripeUnavailable.

    Runs in a Celery task (payments.tasks.process_refund). The Stripe call runs
    between two short transactions, with the refund's own idempotency key, so
    a retry after a lost answer gets the same refund back.

    A booking whose net was already transferred to its merchant (an admin's
    refund after the experience) gets its transfer reversed first
    (payments.transfers.transfer_clear_for_refund); the refund waits (raises
    TransferInFlight, a StripeUnavailable) while that transfer is pending, and
    fails with the reason when Stripe refuses the reversal.
    """
    with transaction.atomic():
        payment_id = Refund.objects.filter(pk=refund_id).values_list("payment_id", flat=True).first()
        if payment_id is None:
            return None
        Payment.objects.select_for_update().only("pk").get(pk=payment_id)
        refund = Refund.objects.select_for_update().select_related("payment").get(pk=refund_id)
        if refund.status != RefundStatus.PENDING:
            return refund  # done, or failed for good (an admin may send it again)
        refund.attempts += 1
        refund.save(update_fields=["attempts", "updated_at"])
    try:
        blocked = transfer_clear_for_refund(booking_id=refund.payment.booking_id)
    except StripeUnavailable as exc:
        Refund.objects.filter(pk=refund_id).update(last_error=str(exc)[:2000])
        raise
    if blocked:
        logger.error("refund %s not sent: %s", refund_id, blocked)
        return _refund_store_result(refund_id, stripe_id="", stripe_status="failed", note=blocked)
    try:
        result = stripe_client().v1.refunds.create(
            params={
                "payment_intent": refund.payment.stripe_payment_intent_id,
                "amount": refund.amount,
                "metadata": {"booking_id": str(refund.payment.booking_id), "refund_id": str(refund.pk)},
            },
            options={"idempotency_key": refund.idempotency_key},
        )
    except stripe.StripeError as exc:
        if is_transient(exc):
            Refund.objects.filter(pk=refund_id).update(last_error=error_text(exc))
            raise StripeUnavailable(str(exc)) from exc
        if getattr(exc, "code", None) == "charge_already_refunded":
            return _refund_store_result(refund_id, stripe_id="", stripe_status="succeeded", note=error_text(exc))
        logger.error("refund %s refused by Stripe: %s", refund_id, exc)
        return _refund_store_result(refund_id, stripe_id="", stripe_status="failed", note=error_text(exc))
    return _refund_store_result(refund_id, stripe_id=result.id, stripe_status=result.status or "pending")


def _refund_store_result(refund_id: int, *, stripe_id: str, stripe_status: str, note: str = "") -> Refund:
    status = {
        "succeeded": RefundStatus.SUCCEEDED,
        "failed": RefundStatus.FAILED,
        "canceled": RefundStatus.FAILED,
    }.get(stripe_status, RefundStatus.PENDING)  # pending / requires_action: charge.refunded settles it
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(
            pk=Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
        )
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status != RefundStatus.SUCCEEDED:
            refund.status = status
        if stripe_id:
            refund.stripe_refund_id = stripe_id
        refund.last_error = note if status == RefundStatus.FAILED else ""
        refund.save(update_fields=["status", "stripe_refund_id", "last_error", "updated_at"])
        # Refunded once the whole amount is back: a part (a reschedule's price difference) leaves the
        # payment succeeded, so a later cancellation still refunds the rest.
        if (
            refund.status == RefundStatus.SUCCEEDED
            and payment.status == PaymentStatus.SUCCEEDED
            and _refunded_total(payment, status=RefundStatus.SUCCEEDED) >= payment.amount
        ):
            payment.status = PaymentStatus.REFUNDED
            payment.save(update_fields=["status", "updated_at"])
    return refund


def refund_mark_failed(*, refund_id: int, error: str) -> None:
    """Final failure after every retry: the refund shows as failed, with the reason, in the admin."""
    Refund.objects.filter(pk=refund_id, status=RefundStatus.PENDING).update(
        status=RefundStatus.FAILED, last_error=error[:2000], updated_at=timezone.now()
    )


def refund_reconcile(*, refund_id: int) -> str:
    """Re-read a refund Stripe left `pending` and record how it ended (reconciliation). Raises StripeUnavailable.

    Settles what the lost `charge.refunded` webhook would have: `succeeded` (the
    payment becomes refunded once the whole amount is back), `failed`/`canceled`,
    or still `pending` (asked again later). A refund Stripe reports for another
    PaymentIntent than its payment's is left alone, and logged. Idempotent.
    """
    row = (
        Refund.objects.filter(pk=refund_id)
        .values_list("status", "stripe_refund_id", "payment__stripe_payment_intent_id")
        .first()
    )
    if row is None:
        return "missing"
    status, stripe_refund_id, intent_id = row
    if status != RefundStatus.PENDING or not stripe_refund_id:
        return status
    try:
        current = stripe_client().v1.refunds.retrieve(stripe_refund_id)
    except stripe.StripeError as exc:
        if is_transient(exc):
            raise StripeUnavailable(str(exc)) from exc
        logger.error("refund %s: Stripe refund %s cannot be read: %s", refund_id, stripe_refund_id, exc)
        Refund.objects.filter(pk=refund_id).update(last_error=error_text(exc), updated_at=timezone.now())
        return status
    if (current.payment_intent or "") != intent_id:
        logger.error(
            "refund %s: Stripe refund %s is of %s, not %s", refund_id, current.id, current.payment_intent, intent_id
        )
        Refund.objects.filter(pk=refund_id).update(updated_at=timezone.now())
        return status
    return _refund_store_result(refund_id, stripe_id=current.id, stripe_status=current.status or "pending").status


def refund_retry(*, refund_id: int) -> Refund:
    """Send a failed refund again (admin action). The same idempotency key is used."""
    with transaction.atomic():
        payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
        Payment.objects.select_for_update().only("pk").get(pk=payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status == RefundStatus.FAILED:
            refund.status = RefundStatus.PENDING
            refund.save(update_fields=["status", "updated_at"])
        if refund.status == RefundStatus.PENDING:
            outbox.enqueue(PROCESS_REFUND_TASK, refund.pk)
    return refund


def payment_refund(*, payment_id: int, reason: str = "admin") -> Refund | None:
    """Admin action: refund a succeeded payment in full, or send its failed refund again.

    The booking is left as it is (cancelling a booking refunds it on its own).
    Returns None when there is nothing to refund (the payment did not succeed).
    When the booking's net was already transferred to its merchant, the refund
    task reverses that transfer before it refunds (:func:`refund_process`).
    """
    booking_id = Payment.objects.values_list("booking_id", flat=True).get(pk=payment_id)
    with transaction.atomic():
        Booking.objects.select_for_update(of=("self",)).only("pk").get(pk=booking_id)
        refund_id = Refund.objects.filter(payment_id=payment_id).values_list("pk", flat=True).first()
        if refund_id is not None:
            return refund_retry(refund_id=refund_id)
        return payment_refund_for_booking(booking_id=booking_id, reason=reason)
