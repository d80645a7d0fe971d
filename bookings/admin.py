from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from bookings.models import Booking, BookingReminder, BookingStatusChange, PromoCode, WaitlistEntry
from bookings.promo import promo_code_update
from bookwise.admin_tools import (
    EstimatedCountPaginator,
    ReadOnlyAdminMixin,
    ServiceOwnedAdminMixin,
    parse_id,
    search_by_id_or_email,
    themes_titled,
    users_named,
)
from bookwise.money import format_money
from bookwise.templatetags.portal import tickets_words
from catalog.models import Slot, Theme


class BookingStatusChangeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = BookingStatusChange
    fields = ("created_at", "from_status", "to_status", "changed_by", "reason")
    readonly_fields = fields
    extra = 0
    ordering = ("created_at", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[BookingStatusChange]:
        return super().get_queryset(request).select_related("changed_by")


class BookingReminderInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The reminders claimed for this booking (bookings.reminders): sent, or skipped when no longer due."""

    model = BookingReminder
    fields = ("kind", "created_at")
    readonly_fields = fields
    extra = 0
    ordering = ("created_at", "id")
    verbose_name = "reminder claimed"
    verbose_name_plural = "Reminders claimed (before:<hours> before the start, review after it)"


@admin.register(Booking)
class BookingAdmin(ServiceOwnedAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "slot",
        "customer_display",
        "party_size",
        "status",
        "total",
        "expires_at",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("id", "customer__email")
    search_help_text = (
        "A booking id, the customer's exact email address, or words that start the customer's name "
        "or the theme's title."
    )
    list_select_related = ("slot", "slot__theme", "slot__theme__merchant", "customer")
    # Both are read-only below; should one ever become editable, it must not render a dropdown of millions.
    raw_id_fields = ("slot", "customer")
    # Money and status move only through the booking and payment services. The
    # seat-holding fields (slot, party size, hold expiry) are read-only too:
    # editing them here would bypass the slot lock that keeps slots from
    # being oversold. Bookings are made by the join service, never added here,
    # and never deleted (payments and audit rows point at them): cancel instead.
    fields = (
        "slot",
        "customer",
        "party_size",
        "tickets_display",
        "status",
        "total",
        "discount_display",
        "promo_code_link",
        "refunded_display",
        "ics_sequence",
        "payment_link",
        "refund_links",
        "expires_at",
        "confirmed_at",
        "cancelled_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = (BookingStatusChangeInline, BookingReminderInline)
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_queryset(self, request: HttpRequest) -> QuerySet[Booking]:
        return super().get_queryset(request).select_related("slot__theme__merchant", "customer")

    @admin.display(description="Customer", ordering="customer__email")
    def customer_display(self, booking: Booking) -> str:
        customer = booking.customer
        return f"{customer.full_name} <{customer.email}>" if customer.full_name else customer.email

    @admin.display(description="Amount", ordering="amount")
    def total(self, booking: Booking) -> str:
        return format_money(booking.amount, booking.currency)

    @admin.display(description="Tickets")
    def tickets_display(self, booking: Booking) -> str:
        return tickets_words(booking.tickets, booking.slot.theme.price_tiers) or "-"

    @admin.display(description="Discount")
    def discount_display(self, booking: Booking) -> str:
        return format_money(booking.discount, booking.currency)

    @admin.display(description="Promo code")
    def promo_code_link(self, booking: Booking) -> str:
        if booking.promo_code_id is None:
            return "-"
        code = PromoCode.objects.only("code").get(pk=booking.promo_code_id)
        return format_html('<a href="{}">{}</a>', reverse("admin:bookings_promocode_change", args=[code.pk]), code.code)

    @admin.display(description="Refunded", ordering="refunded_amount")
    def refunded_display(self, booking: Booking) -> str:
        return format_money(booking.refunded_amount, booking.currency)

    @admin.display(description="Payment")
    def payment_link(self, booking: Booking) -> str:
        from payments.models import Payment

        payment = Payment.objects.filter(booking_id=booking.pk).first()
        if payment is None:
            return "-"
        url = reverse("admin:payments_payment_change", args=[payment.pk])
        return format_html(
            '<a href="{}">{}</a> ({}, {})',
            url,
            payment.stripe_payment_intent_id or f"Payment {payment.pk}",
            payment.get_status_display(),
            format_money(payment.amount, payment.currency),
        )

    @admin.display(description="Refunds")
    def refund_links(self, booking: Booking) -> str:
        from payments.models import Refund

        refunds = Refund.objects.filter(payment__booking_id=booking.pk).select_related("payment").order_by("id")
        if not refunds:
            return "-"
        return format_html_join(
            ", ",
            '<a href="{}">Refund {}</a> ({}, {})',
            (
                (
                    reverse("admin:payments_refund_change", args=[refund.pk]),
                    refund.pk,
                    refund.get_status_display(),
                    format_money(refund.amount, refund.payment.currency),
                )
                for refund in refunds
            ),
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Booking], search_term: str
    ) -> tuple[QuerySet[Booking], bool]:
        """Index-only: an id, an exact email, or word prefixes of the customer's name or the theme's title."""
        term = search_term.strip()
        if not term:
            return queryset, False
        found = search_by_id_or_email(queryset, term, id_field="pk", user_field="customer")
        if found is not None:
            return found, False
        # Two index paths (the customer's bookings, the theme's slots' bookings) joined as one id set,
        # so neither side turns into a scan of all bookings.
        by_customer = Booking.objects.filter(customer__in=users_named(term).values("pk")).values("pk")
        by_theme = Booking.objects.filter(
            slot__in=Slot.objects.filter(theme__in=themes_titled(Theme.objects.all(), term).values("pk")).values("pk")
        ).values("pk")
        return queryset.filter(pk__in=by_customer.union(by_theme)), False


@admin.register(BookingStatusChange)
class BookingStatusChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("booking", "from_status", "to_status", "changed_by", "reason", "created_at")
    list_filter = ("to_status",)
    search_fields = ("booking__id",)
    search_help_text = "A booking id."
    list_select_related = ("booking", "changed_by")
    # Newest first along the primary key index (the model's own ordering would sort the whole table).
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[BookingStatusChange], search_term: str
    ) -> tuple[QuerySet[BookingStatusChange], bool]:
        if not search_term.strip():
            return queryset, False
        pk = parse_id(search_term)
        return (queryset.filter(booking_id=pk) if pk is not None else queryset.none()), False


# --- Waitlist (bookings.waitlist) ------------------------------------------------------------------


class WaitlistEntryInline(ReadOnlyAdminMixin, admin.TabularInline):
    """A slot's waitlist, in order of joining (shown on the slot's admin page, catalog.admin.SlotAdmin)."""

    model = WaitlistEntry
    fields = ("created_at", "customer", "party_size", "status", "booking", "offered_at")
    readonly_fields = fields
    extra = 0
    ordering = ("created_at", "id")
    verbose_name_plural = "Waitlist (offered in this order when seats free up)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[WaitlistEntry]:
        return super().get_queryset(request).select_related("customer", "booking")


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Entries move only through bookings.waitlist (joins, leaves and offers under the slot lock): read-only here."""

    list_display = ("id", "slot", "customer", "party_size", "status", "booking", "offered_at", "created_at")
    list_filter = ("status",)
    search_fields = ("id",)
    search_help_text = "An entry id, a slot id (slot:<id>) or the customer's exact email address."
    list_select_related = ("slot", "slot__theme", "slot__theme__merchant", "customer", "booking")
    raw_id_fields = ("slot", "customer", "booking")
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[WaitlistEntry], search_term: str
    ) -> tuple[QuerySet[WaitlistEntry], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.lower().startswith("slot:"):
            slot_id = parse_id(term[5:])
            return (queryset.filter(slot_id=slot_id) if slot_id is not None else queryset.none()), False
        found = search_by_id_or_email(queryset, term, id_field="pk", user_field="customer")
        return (found if found is not None else queryset.none()), False


# --- Promo codes (bookings.promo) --------------------------------------------------------------------


@admin.register(PromoCode)
class PromoCodeAdmin(ServiceOwnedAdminMixin, admin.ModelAdmin):
    """Codes are created by their merchants (portal, API); here they are looked at, paused and resumed.

    The count moves only through bookings.promo's conditional updates: the change form is view-only.
    """

    list_display = (
        "code",
        "merchant",
        "discount_display",
        "uses_display",
        "is_active",
        "valid_from",
        "valid_to",
        "created_at",
    )
    list_filter = ("is_active", ("valid_to", admin.EmptyFieldListFilter))
    search_fields = ("code", "merchant__name")
    search_help_text = "The code (any case) or the merchant's name."
    list_select_related = ("merchant",)
    raw_id_fields = ("merchant",)
    ordering = ("-id",)
    fields = (
        "merchant",
        "code",
        "discount_display",
        "uses_display",
        "is_active",
        "valid_from",
        "valid_to",
        "themes_display",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = ("pause", "resume")

    @admin.display(description="Discount")
    def discount_display(self, code: PromoCode) -> str:
        if code.percent_off is not None:
            return f"{code.percent_off} % off"
        return f"{format_money(code.amount_off, code.currency)} off"

    @admin.display(description="Uses", ordering="redemptions")
    def uses_display(self, code: PromoCode) -> str:
        return f"{code.redemptions} / {code.max_redemptions}" if code.max_redemptions else f"{code.redemptions}"

    @admin.display(description="Themes")
    def themes_display(self, code: PromoCode) -> str:
        return ", ".join(code.themes.values_list("title", flat=True)) or "All of the merchant's themes"

    @admin.action(description="Pause the selected codes")
    def pause(self, request: HttpRequest, queryset: QuerySet[PromoCode]) -> None:
        for code in queryset:
            promo_code_update(code=code, is_active=False)
        self.message_user(request, f"{queryset.count()} code(s) paused.")

    @admin.action(description="Resume the selected codes")
    def resume(self, request: HttpRequest, queryset: QuerySet[PromoCode]) -> None:
        for code in queryset:
            promo_code_update(code=code, is_active=True)
        self.message_user(request, f"{queryset.count()} code(s) resumed.")
