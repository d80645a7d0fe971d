from __future__ import annotations

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from bookwise.admin_tools import EstimatedCountPaginator, parse_id
from bookwise.money import format_money
from catalog.models import Slot, Theme


@admin.register(Theme)
class ThemeAdmin(admin.ModelAdmin):
    list_display = ("title", "merchant", "price_per_person", "is_active", "rating_avg", "review_count")
    list_filter = ("is_active", "currency")
    search_fields = ("title", "merchant__name")
    list_select_related = ("merchant",)
    raw_id_fields = ("merchant",)
    # Maintained by the reviews services on every review create, edit and delete.
    readonly_fields = ("price_per_person", "rating_avg", "review_count", "created_at", "updated_at")
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    @admin.display(description="Price per person", ordering="price")
    def price_per_person(self, theme: Theme) -> str:
        return format_money(theme.price, theme.currency)


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    list_display = ("id", "__str__", "starts_at", "ends_at", "capacity", "status")
    list_filter = ("status",)
    search_fields = ("id", "theme__id")
    search_help_text = "A slot id or a theme id."
    list_select_related = ("theme", "theme__merchant")
    raw_id_fields = ("theme",)
    # Cancelling a slot cancels and refunds its bookings: only the cancel service may do it.
    readonly_fields = ("status", "created_at", "updated_at")
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Slot], search_term: str
    ) -> tuple[QuerySet[Slot], bool]:
        if not search_term.strip():
            return queryset, False
        pk = parse_id(search_term)
        if pk is None:
            return queryset.none(), False
        return queryset.filter(Q(pk=pk) | Q(theme_id=pk)), False
