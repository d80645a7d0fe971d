from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self) -> None:
        from payments import gateway, webhooks  # noqa: F401 - webhooks connects the dj-stripe receivers

        # dj-stripe calls Stripe through the SDK's module-level client (webhook
        # sync, admin actions): the same timeout as ours, no hidden retries.
        gateway.configure_sdk_defaults()
