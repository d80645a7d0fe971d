"""The Stripe events BookWise's webhook endpoints subscribe to (README, "Getting paid": the same lists).

Two endpoints, as Stripe separates them: events on the platform's own account
(its PaymentIntents, charges, refunds, disputes, and the transfers it makes)
and events on the merchants' connected accounts (`account.updated`), which
Stripe sends only to an endpoint created with "Listen to: Events on Connected
accounts" and its own signing secret (payments.stripe_setup).
payments.webhooks has a receiver for each. localstripe (the stand-in) is told
both lists for its one registration (devtools.embedded), so development and
tests see what production sees. No Django import here: the development tools
read it before Django starts.
"""

PLATFORM_EVENTS: tuple[str, ...] = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.canceled",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
    "transfer.created",
    "transfer.reversed",
)
CONNECT_EVENTS: tuple[str, ...] = ("account.updated",)
ENABLED_EVENTS: tuple[str, ...] = PLATFORM_EVENTS + CONNECT_EVENTS
