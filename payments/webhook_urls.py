"""Stripe's webhook URL, routed to our view (503 when Stripe is unreachable) ahead of dj-stripe's same path.

Included under ``stripe/`` by bookwise/urls.py before ``djstripe.urls``, so
``reverse("djstripe:djstripe_webhook_by_uuid", ...)`` still names the URL.
"""

from django.urls import path

from payments.webhooks import WebhookView

urlpatterns = [
    path("webhook/<uuid:uuid>/", WebhookView.as_view(), name="stripe-webhook"),
]
