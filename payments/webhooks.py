"""dj-stripe receivers: thin adapters from verified Stripe events to payments.services.

dj-stripe's view (``/stripe/webhook/<djstripe_uuid>/``) has already checked the
signature and the timestamp, stored the event once per id and synced its own
copy of the object when these run, inside its transaction. Each receiver
passes the object from the event payload to one idempotent service; a
duplicate or late event changes nothing (see payments.services).
Imported by ``PaymentsConfig.ready()``.
"""

from __future__ import annotations

from djstripe.event_handlers import djstripe_receiver

from payments import services


@djstripe_receiver(
    [
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.processing",
        "payment_intent.canceled",
    ]
)
def on_payment_intent_event(sender, event, **kwargs) -> None:
    services.payment_apply_intent(intent=event.data["object"])


@djstripe_receiver("charge.refunded")
def on_charge_refunded(sender, event, **kwargs) -> None:
    services.payment_apply_charge_refunded(charge=event.data["object"])
