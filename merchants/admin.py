"""Merchants in the Django admin: approve, and suspend through a page that asks why and what happens to bookings.

Suspending opens an intermediate page (for one merchant from its change page, or
for several from the bulk action): a required reason, the upcoming bookings it
affects, and the choice to keep them or cancel and refund them all. Confirming
calls checkout.services.merchant_suspend once per merchant.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from bookwise.errors import DomainError
from bookwise.money import format_money
from checkout.selectors import suspension_affected_bookings
from checkout.services import merchant_suspend
from merchants.models import Merchant, MerchantStatus
from merchants.services import merchant_approve

KEEP, CANCEL = "keep", "cancel"
# The suspend page lists at most this many of a merchant's affected bookings (the counts and totals are exact).
AFFECTED_LISTED = 200


class SuspendForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        max_length=2000,
        help_text="Sent to the merchant by email.",
    )
    bookings = forms.ChoiceField(
        label="Upcoming bookings",
        choices=[
            (KEEP, "Keep them: the merchant still sees participants and marks attendance; nothing new can be booked"),
            (CANCEL, "Cancel and refund them all: each customer is emailed"),
        ],
        widget=forms.RadioSelect,
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why: the merchant is told.")
        return reason


def _ids(raw: str) -> list[int]:
    return sorted({int(part) for part in raw.split(",") if part.strip().isdigit()})


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "city", "timezone", "status", "fee", "payouts", "created_at")
    list_filter = ("status", "city", "booking_emails", "daily_schedule_email", "connected_account__status")
    search_fields = ("name", "owner__email", "city")
    list_select_related = ("owner", "connected_account")
    # The users table is huge: pick the owner by id, never from a dropdown.
    raw_id_fields = ("owner",)
    # Status moves only through the approve/suspend services (they also move the owner's role).
    readonly_fields = (
        "status",
        "approved_at",
        "suspended_at",
        "suspension_reason",
        "suspension_keeps_bookings",
        # Set by the owner (settings page, API), which validates each origin: it becomes a CSP header.
        "widget_origins",
        "created_at",
        "updated_at",
    )
    ordering = ("-created_at", "-id")
    actions = ("approve_selected", "suspend_selected")
    # The calendar feed token is a credential: never shown, only rotated (by the owner, merchants.feeds).
    exclude = ("calendar_feed_token",)

    # --- Payouts: the platform fee (editable: `fee_bps`) and the Stripe account's status ------------

    @admin.display(description="Fee")
    def fee(self, merchant: Merchant) -> str:
        shown = f"{merchant.effective_fee_bps / 100:g} %"
        return shown if merchant.fee_bps is not None else f"{shown} (default)"

    @admin.display(description="Payouts")
    def payouts(self, merchant: Merchant) -> str:
        account = getattr(merchant, "connected_account", None)  # none yet: RelatedObjectDoesNotExist
        return account.get_status_display() if account is not None else "Not set up"

    # --- URLs: the approve and suspend pages ----------------------------------------------------

    def get_urls(self):
        own = [
            path("suspend/", self.admin_site.admin_view(self.suspend_view), name="merchants_merchant_suspend"),
            path("<int:pk>/approve/", self.admin_site.admin_view(self.approve_view), name="merchants_merchant_approve"),
        ]
        return own + super().get_urls()

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        context = dict(extra_context or {})
        merchant = self.get_object(request, object_id)
        if merchant is not None and self.has_change_permission(request, merchant):
            if merchant.status != MerchantStatus.APPROVED:
                context["approve_url"] = reverse("admin:merchants_merchant_approve", args=[merchant.pk])
            if merchant.status == MerchantStatus.APPROVED:
                context["suspend_url"] = reverse("admin:merchants_merchant_suspend") + f"?ids={merchant.pk}"
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _changelist_url(self) -> str:
        return reverse("admin:merchants_merchant_changelist")

    def approve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET: confirm; POST: approve (merchants.services.merchant_approve)."""
        merchant = get_object_or_404(Merchant.objects.select_related("owner"), pk=pk)
        if not self.has_change_permission(request, merchant):
            raise PermissionDenied
        change_url = reverse("admin:merchants_merchant_change", args=[merchant.pk])
        if request.method == "POST":
            try:
                merchant_approve(merchant=merchant, by=request.user)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, f"Approved {merchant.name}.", messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Approve {merchant.name}?",
            "merchant": merchant,
            "change_url": change_url,
            "reapproval": merchant.approved_at is not None,
        }
        return TemplateResponse(request, "admin/merchants/merchant/approve.html", context)

    def suspend_view(self, request: HttpRequest) -> HttpResponse:
        """The intermediate page: reason, affected bookings, keep or cancel. POST calls the service per merchant."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        ids = _ids(request.POST.get("ids", "") if request.method == "POST" else request.GET.get("ids", ""))
        merchants = list(Merchant.objects.filter(pk__in=ids).select_related("owner").order_by("pk"))
        if not merchants:
            self.message_user(request, "Choose at least one merchant to suspend.", messages.WARNING)
            return HttpResponseRedirect(self._changelist_url())
        form = SuspendForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            return self._suspend(request, merchants, form)
        now = timezone.now()
        affected = [self._affected(merchant, now) for merchant in merchants]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Suspend merchant" if len(merchants) == 1 else f"Suspend {len(merchants)} merchants",
            "form": form,
            "ids": ",".join(str(m.pk) for m in merchants),
            "affected": affected,
            "total_bookings": sum(a["count"] for a in affected),
            "changelist_url": self._changelist_url(),
        }
        status = 400 if request.method == "POST" else 200
        return TemplateResponse(request, "admin/merchants/merchant/suspend.html", context, status=status)

    def _affected(self, merchant: Merchant, now) -> dict:
        bookings = suspension_affected_bookings(merchant_id=merchant.pk, now=now)
        totals = bookings.order_by().values("currency").annotate(amount=Sum("amount"), count=Count("id"))
        return {
            "merchant": merchant,
            "can_suspend": merchant.status == MerchantStatus.APPROVED,
            "count": sum(row["count"] for row in totals),
            "totals": [format_money(row["amount"], row["currency"]) for row in totals.order_by("currency")],
            "bookings": list(bookings[:AFFECTED_LISTED]),
        }

    def _suspend(self, request: HttpRequest, merchants: list[Merchant], form: SuspendForm) -> HttpResponse:
        keep = form.cleaned_data["bookings"] == KEEP
        done, refused = [], []
        # Each merchant in its own transaction (inside the service): one refusal does not undo the others.
        for merchant in merchants:
            try:
                result = merchant_suspend(
                    merchant=merchant, by=request.user, reason=form.cleaned_data["reason"], keep_bookings=keep
                )
            except DomainError as exc:
                refused.append(f"{merchant.name}: {exc.message}")
            else:
                done.append(
                    f"{merchant.name} (bookings kept)"
                    if keep
                    else f"{merchant.name} ({result.cancelled} booking(s) cancelled, {result.refunded} refunded)"
                )
        if done:
            self.message_user(request, "Suspended " + "; ".join(done) + ".", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{len(refused)} merchant(s) refused: " + "; ".join(refused), messages.WARNING)
        if len(merchants) == 1:
            return HttpResponseRedirect(reverse("admin:merchants_merchant_change", args=[merchants[0].pk]))
        return HttpResponseRedirect(self._changelist_url())

    # --- Bulk actions -----------------------------------------------------------------------------

    @admin.action(description="Approve selected merchants", permissions=["change"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> None:
        done, refused = 0, []
        # Each merchant in its own transaction (inside the service): one refusal does not undo the others.
        for merchant in queryset.order_by("pk"):
            try:
                merchant_approve(merchant=merchant, by=request.user)
            except DomainError as exc:
                refused.append(f"{merchant.name}: {exc.message}")
            else:
                done += 1
        if done:
            self.message_user(request, f"Approved {done} merchant(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{len(refused)} merchant(s) refused: " + "; ".join(refused), messages.WARNING)

    @admin.action(description="Suspend selected merchants…", permissions=["change"])
    def suspend_selected(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> HttpResponse:
        """Nothing is suspended here: the intermediate page asks for the reason and the bookings choice."""
        ids = ",".join(str(pk) for pk in queryset.order_by("pk").values_list("pk", flat=True))
        return HttpResponseRedirect(reverse("admin:merchants_merchant_suspend") + f"?ids={ids}")
