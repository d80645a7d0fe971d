from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from bookings.models import Booking, BookingStatusChange
from bookwise.admin_tools import (
    EstimatedCountPaginator,
    ReadOnlyAdminMixin,
    ServiceOwnedAdminMixin,
    parse_id,
    search_by_id_or_email,
)


class BookingStatusChangeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = BookingStatusChange
    fields = ("created_at", "from_status", "to_status", "changed_by", "reason")
    readonly_fields = fields
    extra = 0
    ordering = ("created_at", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[BookingStatusChange]:
        return super().get_queryset(request).select_related("changed_by")


@admin.register(Booking)
class BookingAdmin(ServiceOwnedAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "slot",
        "customer",
        "party_size",
        "status",
        "amount",
        "currency",
        "expires_at",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("id", "customer__email")
    search_help_text = "A booking id or the customer's exact email address."
    list_select_related = ("slot", "customer")
    # Both are read-only below; should one ever become editable, it must not render a dropdown of millions.
    raw_id_fields = ("slot", "customer")
    # Money and status move only through the booking and payment services. The
    # seat-holding fields (slot, party size, hold expiry) are read-only too:
    # editing them here would bypass the slot lock that keeps slots from
    # being oversold. Bookings are made by the join service, never added here,
    # and never deleted (payments and audit rows point at them): cancel instead.
    readonly_fields = (
        "slot",
        "customer",
        "party_size",
        "status",
        "amount",
        "currency",
        "expires_at",
        "confirmed_at",
        "cancelled_at",
        "created_at",
        "updated_at",
    )
    inlines = (BookingStatusChangeInline,)
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Booking], search_term: str
    ) -> tuple[QuerySet[Booking], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        found = search_by_id_or_email(queryset, term, id_field="pk", user_field="customer")
        return (queryset.none() if found is None else found), False


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
