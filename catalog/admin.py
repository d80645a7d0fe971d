from __future__ import annotations

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from bookwise.admin_tools import EstimatedCountPaginator, parse_id
from bookwise.money import format_money
from catalog.models import Slot, Theme


@admin.register(Theme)
class ThemeAdmin(admin.ModelAdmin):
    list_display = ("title", "merchant", "price_per_person", "booking_mode", "min_players", "is_active", "rating_avg")
    list_filter = ("is_active", "booking_mode", "currency")
    search_fields = ("title", "merchant__name")
    list_select_related = ("merchant",)
    raw_id_fields = ("merchant",)
    # Maintained by the reviews services on every review create, edit and delete.
    # Ticket and refund tiers are JSON lists with rules (catalog.services): shown readably here, edited in the
    # merchant portal or the API, which validate them. booking_mode, private_price and min_players stay editable.
    exclude = ("price_tiers", "cancellation_policy")
    readonly_fields = (
        "price_per_person",
        "tiers_display",
        "policy_display",
        "rating_avg",
        "review_count",
        "created_at",
        "updated_at",
    )
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    @admin.display(description="Price per person", ordering="price")
    def price_per_person(self, theme: Theme) -> str:
        return format_money(theme.price, theme.currency)

    @admin.display(description="Ticket tiers, as customers see them")
    def tiers_display(self, theme: Theme) -> str:
        return (
            " · ".join(
                f"{tier.get('label')} ({tier.get('code')}) {format_money(int(tier.get('price', 0)), theme.currency)}"
                for tier in theme.price_tiers or []
            )
            or "-"
        )

    @admin.display(description="Refund tiers")
    def policy_display(self, theme: Theme) -> str:
        rows = theme.cancellation_policy or []
        if not rows:
            return f"Full refund up to {theme.cancellation_cutoff_hours} h before the start (the cutoff)"
        return " · ".join(f"{row.get('refund_percent')} % from {row.get('hours_before')} h before" for row in rows)


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    list_display = ("id", "__str__", "starts_at", "ends_at", "capacity", "peak_price", "status", "guaranteed_at")
    list_filter = ("status",)
    search_fields = ("id", "theme__id")
    search_help_text = "A slot id or a theme id."
    list_select_related = ("theme", "theme__merchant")
    raw_id_fields = ("theme",)
    # Cancelling a slot cancels and refunds its bookings: only the cancel service may do it.
    # The peak price changes what new bookings pay: set it in the portal or the API, which refuse it
    # once seats are held; guaranteed_at is the minimum-players sweep's.
    readonly_fields = ("status", "price", "guaranteed_at", "created_at", "updated_at")
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    @admin.display(description="Peak price", ordering="price")
    def peak_price(self, slot: Slot) -> str:
        return format_money(slot.price, slot.theme.currency) if slot.price is not None else "-"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Slot], search_term: str
    ) -> tuple[QuerySet[Slot], bool]:
        if not search_term.strip():
            return queryset, False
        pk = parse_id(search_term)
        if pk is None:
            return queryset.none(), False
        return queryset.filter(Q(pk=pk) | Q(theme_id=pk)), False
