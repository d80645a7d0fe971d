from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from bookwise.errors import DomainError
from merchants.models import Merchant
from merchants.services import merchant_approve, merchant_suspend


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "city", "timezone", "status", "created_at")
    list_filter = ("status", "city")
    search_fields = ("name", "owner__email", "city")
    list_select_related = ("owner",)
    # The users table is huge: pick the owner by id, never from a dropdown.
    raw_id_fields = ("owner",)
    # Status moves only through the approve/suspend services (they also move the owner's role).
    readonly_fields = ("status", "approved_at", "created_at", "updated_at")
    ordering = ("-created_at", "-id")
    actions = ("approve_selected", "suspend_selected")

    def _apply(self, request: HttpRequest, queryset: QuerySet[Merchant], service, verb: str) -> None:
        done, refused = 0, []
        # Each merchant in its own transaction (inside the service): one refusal does not undo the others.
        for merchant in queryset.order_by("pk"):
            try:
                service(merchant=merchant, by=request.user)
            except DomainError as exc:
                refused.append(f"{merchant.name}: {exc.message}")
            else:
                done += 1
        if done:
            self.message_user(request, f"{verb} {done} merchant(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{len(refused)} merchant(s) refused: " + "; ".join(refused), messages.WARNING)

    @admin.action(description="Approve selected merchants", permissions=["change"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> None:
        self._apply(request, queryset, merchant_approve, "Approved")

    @admin.action(description="Suspend selected merchants", permissions=["change"])
    def suspend_selected(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> None:
        self._apply(request, queryset, merchant_suspend, "Suspended")
