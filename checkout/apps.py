from django.apps import AppConfig


class CheckoutConfig(AppConfig):
    """The flows that cross apps: a booking meets its payment, refunds follow cancellations."""

    name = "checkout"
    verbose_name = "Checkout"
