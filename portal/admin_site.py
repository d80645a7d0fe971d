"""The admin site: Django's, with a summary of today's activity on the index page.

Installed through `BookwiseAdminConfig` (in INSTALLED_APPS instead of
"django.contrib.admin"), so `admin.site` and every `@admin.register` use it.
Nothing here touches models at import time: this module loads while the app
registry is still being populated.
"""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class BookwiseAdminSite(AdminSite):
    site_header = "BookWise administration"
    site_title = "BookWise admin"
    index_template = "admin/bookwise_index.html"

    # Staff who may not read bookings, payments and merchants get the plain index.
    dashboard_permissions = ("bookings.view_booking", "payments.view_payment", "merchants.view_merchant")
    # The money per month reads the ledger too.
    money_permissions = (*dashboard_permissions, "payments.view_ledgerentry")

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        from portal.admin_dashboard import dashboard_summary, money_by_month

        context = dict(extra_context or {})
        now = timezone.now()
        if request.user.has_perms(self.dashboard_permissions):
            context.setdefault("dashboard", dashboard_summary(now=now))
        if request.user.has_perms(self.money_permissions):
            context.setdefault("money_months", money_by_month(now=now))
        return super().index(request, extra_context=context)

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # Same per-IP and per-email login buckets as the API and the portal (429 page when full).
        from accounts.views import admin_login_refusal

        refusal = admin_login_refusal(request, site=self, extra_context=extra_context)
        return refusal or super().login(request, extra_context=extra_context)


# The dj-stripe models platform admins use: the webhook log (events, deliveries), the endpoints, and the
# Stripe objects a booking's money moves through. dj-stripe registers some 40 models; the rest (billing,
# products, customers, cards...) are not used here and are unregistered once every admin module has loaded.
DJSTRIPE_ADMIN_MODELS = frozenset(
    {"Event", "WebhookEventTrigger", "WebhookEndpoint", "PaymentIntent", "Refund", "Dispute", "Transfer"}
)


class BookwiseAdminConfig(AdminConfig):
    default_site = "portal.admin_site.BookwiseAdminSite"

    def ready(self) -> None:
        super().ready()  # autodiscover: every app's admin module registers its models on the site
        from django.contrib import admin

        for model in list(admin.site._registry):
            if model._meta.app_label == "djstripe" and model.__name__ not in DJSTRIPE_ADMIN_MODELS:
                admin.site.unregister(model)
