"""The Stripe events BookWise's webhook endpoint subscribes to (README, "Deployment": the same list).

payments.webhooks has a receiver for each. localstripe is told the same list
when its webhook is registered (devtools.embedded), so development and tests
see what production sees. No Django import here: the development tools read
it before Django starts.
"""

ENABLED_EVENTS: tuple[str, ...] = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.canceled",
    "charge.refunded",
)
