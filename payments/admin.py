from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from bookwise.admin_tools import (
    EstimatedCountPaginator,
    ReadOnlyAdminMixin,
    ServiceOwnedAdminMixin,
    search_by_id_or_email,
)
from bookwise.money import format_money
from payments import payout_selectors, services, transfers
from payments.connect import requirement_words
from payments.models import ConnectedAccount, Dispute, LedgerEntry, Payment, Refund, Transfer, TransferStatus

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


# --- Payouts: connected accounts, the ledger, transfers, disputes, platform revenue -------------


@admin.register(ConnectedAccount)
class ConnectedAccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Merchants' Stripe accounts: kept current by `account.updated`, never edited here."""

    list_display = ("merchant", "stripe_account_id", "status", "payouts_enabled", "charges_enabled", "requirements")
    list_filter = ("status", "payouts_enabled")
    search_fields = ("stripe_account_id", "merchant__name", "merchant__owner__email")
    search_help_text = "An account id (acct_...), a merchant's name or its owner's email."
    list_select_related = ("merchant",)
    fields = (
        "merchant",
        "stripe_account_id",
        "status",
        "charges_enabled",
        "payouts_enabled",
        "details_submitted",
        "requirements_due",
        "requirements",
        "disabled_reason",
        "payouts_enabled_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(description="Stripe needs")
    def requirements(self, account: ConnectedAccount) -> str:
        return "; ".join(requirement_words(account.requirements_due)) or "-"


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The append-only ledger (a trigger refuses UPDATE and DELETE): look only. Platform revenue per month too."""

    list_display = ("created_at", "merchant", "booking", "kind", "entry_amount", "key", "stripe_id")
    list_filter = ("kind", "currency")
    search_fields = ("key", "stripe_id")
    search_help_text = "A key (charge:payment:12, transfer:5) or a Stripe id."
    list_select_related = ("merchant",)
    raw_id_fields = ("merchant", "booking")
    fields = ("merchant", "booking", "kind", "amount", "currency", "key", "stripe_id", "created_at")
    readonly_fields = fields
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    change_list_template = "admin/payments/ledgerentry/change_list.html"

    @admin.display(description="Amount", ordering="amount")
    def entry_amount(self, entry: LedgerEntry) -> str:
        return format_money(entry.amount, entry.currency)

    def get_urls(self):
        return [
            path("revenue/", self.admin_site.admin_view(self.revenue_view), name="payments_ledgerentry_revenue"),
            *super().get_urls(),
        ]

    def revenue_view(self, request: HttpRequest) -> HttpResponse:
        """Platform revenue: the fees kept (net of the shares refunds gave back), per month and currency."""
        months = payout_selectors.platform_fees_by_month(months=24)
        context = {
            **self.admin_site.each_context(request),
            "title": "Platform revenue (fees) per month",
            "months": months,
            "opts": self.model._meta,
            "ledger_url": reverse("admin:payments_ledgerentry_changelist"),
        }
        return TemplateResponse(request, "admin/payments/revenue.html", context)


@admin.register(Transfer)
class TransferAdmin(ServiceOwnedAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "booking",
        "merchant",
        "transfer_amount",
        "status",
        "stripe_transfer_id",
        "stripe_reversal_id",
        "attempts",
        "transferred_at",
    )
    list_filter = ("status",)
    search_fields = ("stripe_transfer_id", "stripe_reversal_id", "booking__id", "merchant__name")
    search_help_text = "A transfer id (tr_...), a reversal id (trr_...), a booking id or a merchant's name."
    list_select_related = ("merchant",)
    fields = (
        "booking",
        "merchant",
        "account",
        "transfer_amount",
        "status",
        "stripe_transfer_id",
        "idempotency_key",
        "attempts",
        "last_error",
        "transferred_at",
        "stripe_reversal_id",
        "reversed_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    actions = ("retry_failed",)

    @admin.display(description="Amount", ordering="amount")
    def transfer_amount(self, transfer: Transfer) -> str:
        return format_money(transfer.amount, transfer.currency)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Transfer], search_term: str
    ) -> tuple[QuerySet[Transfer], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.isdigit():
            return queryset.filter(booking_id=int(term)) if int(term) < 2**63 else queryset.none(), False
        return queryset.filter(
            Q(stripe_transfer_id=term) | Q(stripe_reversal_id=term) | Q(merchant__name__icontains=term)
        ), False

    @admin.action(description="Retry failed transfers (same idempotency key)", permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        """Calls payments.transfers.transfer_retry for each failed one; Stripe is called by a task after commit."""
        retried = skipped = 0
        for transfer_id in queryset.values_list("pk", flat=True).order_by("pk"):
            if Transfer.objects.filter(pk=transfer_id, status=TransferStatus.FAILED).exists():
                transfers.transfer_retry(transfer_id=transfer_id)
                retried += 1
            else:
                skipped += 1
        if retried:
            self.message_user(request, f"{retried} transfer(s) queued again; Stripe is called in the background.")
        if skipped:
            self.message_user(request, f"{skipped} transfer(s) skipped: not failed.", level=messages.WARNING)


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Chargebacks, as Stripe reports them (`charge.dispute.*`); answered in Stripe's dashboard."""

    list_display = ("stripe_dispute_id", "payment", "dispute_amount", "reason", "status", "created_at", "closed_at")
    list_filter = ("status",)
    search_fields = ("stripe_dispute_id", "payment__stripe_payment_intent_id")
    search_help_text = "A dispute id (dp_...) or a PaymentIntent id (pi_...)."
    list_select_related = ("payment",)
    fields = ("payment", "stripe_dispute_id", "dispute_amount", "reason", "status", "created_at", "closed_at")
    readonly_fields = fields

    @admin.display(description="Amount", ordering="amount")
    def dispute_amount(self, dispute: Dispute) -> str:
        return format_money(dispute.amount, dispute.currency)
