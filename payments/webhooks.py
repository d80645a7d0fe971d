"""dj-stripe receivers and webhook view: thin adapters from verified Stripe events to the services.

dj-stripe's view (``/stripe/webhook/<djstripe_uuid>/``) has already checked the
signature and the timestamp, stored the event once per id and synced its own
copy of the object when these run, inside its transaction. Each receiver
hands the event's object to one idempotent service (an intent to
checkout.services, which may confirm the booking; a charge to
payments.services; a dispute or a transfer to payments.transfers), which uses
the payload only to know *which* object the event is about: it re-reads that
object from Stripe with our own client and applies Stripe's state (see
payments.services). A duplicate or late event changes nothing.

When Stripe cannot be reached while an event is applied (our re-read, or
dj-stripe's own sync), :class:`WebhookView` answers 503 instead of a 500: dj-stripe
has rolled the event back, and Stripe delivers it again later (it retries
any non-2xx answer for days); ``checkout.tasks.reconcile_pending_payments``
re-reads open intents meanwhile. Imported by ``PaymentsConfig.ready()``; the
view is routed in bookwise/urls.py ahead of dj-stripe's own.
"""

from __future__ import annotations

import logging

import stripe
from django.http import HttpRequest, HttpResponse, JsonResponse
from djstripe.event_handlers import djstripe_receiver
from djstripe.views import ProcessWebhookView

from checkout.services import payment_intent_apply_event
from payments import connect, services, transfers
from payments.gateway import StripeUnavailable, is_transient

logger = logging.getLogger(__name__)

# Seconds Stripe is told to wait; it keeps its own (longer) retry schedule anyway.
RETRY_AFTER_SECONDS = 60


@djstripe_receiver(
    [
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.processing",
        "payment_intent.canceled",
    ]
)
def on_payment_intent_event(sender, event, **kwargs) -> None:
    payment_intent_apply_event(intent=event.data["object"])


@djstripe_receiver("charge.refunded")
def on_charge_refunded(sender, event, **kwargs) -> None:
    services.payment_apply_charge_event(charge=event.data["object"])


@djstripe_receiver("account.updated")
def on_account_updated(sender, event, **kwargs) -> None:
    # The payload only names the account: connect re-reads it from Stripe.
    connect.connected_account_sync(stripe_account_id=str(event.data["object"]["id"]))


@djstripe_receiver(["charge.dispute.created", "charge.dispute.closed"])
def on_dispute_event(sender, event, **kwargs) -> None:
    # Re-read from Stripe; a paid transfer of the booking is reversed (payments.transfers).
    transfers.dispute_apply_event(dispute=event.data["object"])


@djstripe_receiver(["transfer.created", "transfer.reversed"])
def on_transfer_event(sender, event, **kwargs) -> None:
    # Re-read from Stripe and reconcile our Transfer row (an answer to our call may have been lost).
    transfers.transfer_apply_event(transfer=event.data["object"])


class WebhookView(ProcessWebhookView):
    """dj-stripe's webhook view, answering 503 (Stripe delivers again) when Stripe itself is unreachable."""

    def post(self, request: HttpRequest, uuid) -> HttpResponse:
        try:
            return super().post(request, uuid)
        except StripeUnavailable as exc:
            error: Exception = exc
        except stripe.StripeError as exc:  # dj-stripe's own sync of the object
            if not is_transient(exc):
                return self._failed(exc)
            error = exc
        except Exception as exc:  # noqa: BLE001 - answered and logged below, not re-raised
            return self._failed(exc)
        logger.warning("webhook not applied, Stripe is unreachable; Stripe will deliver it again: %s", error)
        response = JsonResponse(
            {
                "detail": "The payment provider cannot be reached right now; deliver this event again later.",
                "code": "payment_provider_unavailable",
            },
            status=503,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @staticmethod
    def _failed(exc: Exception) -> HttpResponse:
        """An event that could not be applied: logged with its traceback, answered 500 so Stripe delivers it again.

        dj-stripe has rolled the event back and recorded the failed delivery
        (WebhookEventTrigger, with the exception). Answered here rather than
        raised: Django's request-exception signal is process-wide, and a
        webhook failing in one thread must not surface in another request.
        """
        logger.error("webhook not applied; Stripe will deliver it again", exc_info=exc)
        return JsonResponse(
            {"detail": "This event could not be applied; deliver it again later.", "code": "webhook_failed"},
            status=500,
        )
