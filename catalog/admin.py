from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from bookings.admin import WaitlistEntryInline
from bookwise.admin_tools import EstimatedCountPaginator, parse_id
from bookwise.errors import InvalidInput
from bookwise.money import format_money
from catalog import photos
from catalog.models import Slot, Theme, ThemePhoto
from catalog.services import theme_reminder_offsets_clean


class ThemeAdminForm(forms.ModelForm):
    """The reminder offsets are a JSON list with rules: checked by the catalog service, like the API and portal."""

    class Meta:
        model = Theme
        fields = "__all__"  # noqa: DJ007 (the admin's own `exclude` and read-only fields apply)

    def clean_reminder_offsets_hours(self) -> list[int]:
        try:
            return theme_reminder_offsets_clean(self.cleaned_data.get("reminder_offsets_hours"))
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None


class ThemePhotoInline(admin.TabularInline):
    """A theme's photos, to look at and to take down (moderation).

    Uploads go through the merchant portal or the API, which check and clean every
    file (catalog.photos): no adding here. Deleting one here deletes its files too.
    """

    model = ThemePhoto
    extra = 0
    fields = ("preview", "alt_text", "position", "size", "created_at")
    readonly_fields = fields
    ordering = ("position", "id")
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Theme | None = None) -> bool:
        return False

    @admin.display(description="Photo")
    def preview(self, photo: ThemePhoto) -> str:
        width = 160
        height = round(photo.height * width / photo.width) if photo.width else width
        return format_html(
            '<a href="{}"><img src="{}" width="{}" height="{}" alt="{}" loading="lazy"></a>',
            photos.photo_url(photo),
            photos.photo_src(photo, name="small"),
            width,
            height,
            photo.alt_text,
        )

    @admin.display(description="Size (px)")
    def size(self, photo: ThemePhoto) -> str:
        return f"{photo.width} × {photo.height}"


@admin.register(Theme)
class ThemeAdmin(admin.ModelAdmin):
    form = ThemeAdminForm
    inlines = (ThemePhotoInline,)
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

    def delete_related_photos(self, photos_to_delete: list[ThemePhoto]) -> None:
        for photo in photos_to_delete:
            photos.theme_photo_delete(photo=photo)  # the row, then its files once committed

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is ThemePhoto:
            formset.save(commit=False)
            self.delete_related_photos(list(formset.deleted_objects))
            return
        super().save_formset(request, form, formset, change)

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
    inlines = (WaitlistEntryInline,)  # the slot's waitlist (bookings.admin)
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
