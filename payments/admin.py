from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from bookwise.admin_tools import (
    EstimatedCountPaginator,
    ReadOnlyAdminMixin,
    ServiceOwnedAdminMixin,
    search_by_id_or_email,
)
from bookwise.money import format_money
from payments import services
from payments.models import Payment, Refund

REFUND_FIELDS = (
    "payment",
    "stripe_refund_id",
    "refund_amount",
    "reason",
    "status",
    "idempotency_key",
    "attempts",
    "last_error",
    "created_at",
    "updated_at",
)


@admin.display(description="Amount", ordering="amount")
def refund_amount(refund: Refund) -> str:
    """A refund is in its payment's currency (select `payment` with the refund where many are shown)."""
    return format_money(refund.amount, refund.payment.currency)


class RefundInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Refund
    fields = ("stripe_refund_id", "refund_amount", "reason", "status", "attempts", "last_error", "created_at")
    readonly_fields = fields
    extra = 0

    @admin.display(description="Amount")
    def refund_amount(self, refund: Refund) -> str:
        return refund_amount(refund)


@admin.register(Payment)
class PaymentAdmin(ServiceOwnedAdminMixin, admin.ModelAdmin):
    list_display = ("stripe_payment_intent_id", "booking", "total", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("stripe_payment_intent_id", "booking__id", "booking__customer__email")
    search_help_text = "A PaymentIntent id (pi_...), a booking id or the customer's exact email address."
    list_select_related = ("booking",)
    # Every field mirrors Stripe or was set by the payment services: nothing is
    # edited here. The client secret lets a browser confirm the payment; it is
    # not shown at all.
    fields = (
        "booking",
        "stripe_payment_intent_id",
        "total",
        "status",
        "succeeded_at",
        "idempotency_key",
        "client_idempotency_key",
        "last_error",
        "failed_attempts",
        "failure_keys",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = (RefundInline,)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    actions = ("refund",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Amount", ordering="amount")
    def total(self, payment: Payment) -> str:
        return format_money(payment.amount, payment.currency)

    @admin.action(description="Refund in full (or send a failed refund again)", permissions=["change"])
    def refund(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        """Calls payments.services.payment_refund; Stripe is called by a task after commit. The booking stays as is."""
        sent = skipped = 0
        for payment_id in queryset.values_list("pk", flat=True):
            if services.payment_refund(payment_id=payment_id, reason="admin") is None:
                skipped += 1
            else:
                sent += 1
        if sent:
            self.message_user(request, f"{sent} refund(s) recorded; Stripe is called in the background.")
        if skipped:
            self.message_user(request, f"{skipped} payment(s) skipped: not paid.", level=messages.WARNING)

    def has_delete_permission(self, request: HttpRequest, obj: Payment | None = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Payment], search_term: str
    ) -> tuple[QuerySet[Payment], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        found = search_by_id_or_email(queryset, term, id_field="booking_id", user_field="booking__customer")
        return (queryset.filter(stripe_payment_intent_id=term) if found is None else found), False


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "payment", "refund_amount", "reason", "status", "attempts", "created_at")
    list_filter = ("status",)
    search_fields = ("stripe_refund_id", "payment__stripe_payment_intent_id")
    search_help_text = "A refund id (re_...) or a PaymentIntent id (pi_...)."
    list_select_related = ("payment",)
    fields = REFUND_FIELDS
    readonly_fields = REFUND_FIELDS
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    @admin.display(description="Amount", ordering="amount")
    def refund_amount(self, refund: Refund) -> str:
        return refund_amount(refund)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Refund], search_term: str
    ) -> tuple[QuerySet[Refund], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(stripe_refund_id=term) | Q(payment__stripe_payment_intent_id=term)), False
