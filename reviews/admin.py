"""Review moderation. Every change goes through `reviews.services`, so the theme's rating follows."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from bookwise.admin_tools import EstimatedCountPaginator, search_by_id_or_email
from catalog.models import Theme
from reviews.models import Review
from reviews.services import review_delete, review_set_hidden


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["id", "theme", "author", "rating", "is_hidden", "created_at"]
    list_filter = ["rating", "is_hidden"]
    search_fields = ["comment", "author__email", "theme__title"]  # routed by get_search_results
    search_help_text = "A review id, the author's exact email address, or words in the comment or theme title."
    list_select_related = ["theme", "author"]
    raw_id_fields = ["author", "theme"]
    # Moderators hide, unhide or delete; the words stay the author's.
    fields = ["theme", "author", "rating", "comment", "is_hidden", "created_at", "updated_at"]
    readonly_fields = ["theme", "author", "rating", "comment", "created_at", "updated_at"]
    ordering = ["-created_at", "-id"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    actions = ["hide_reviews", "unhide_reviews"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Reviews come from attendees through the API or portal (reviews.services.review_create).
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Review], search_term: str
    ) -> tuple[QuerySet[Review], bool]:
        # Ids and emails go through indexes; only free text scans (comments, theme titles).
        term = search_term.strip()
        if not term:
            return queryset, False
        found = search_by_id_or_email(queryset, term, id_field="pk", user_field="author")
        if found is not None:
            return found, False
        themes = Theme.objects.filter(title__icontains=term).values("pk")
        return queryset.filter(Q(comment__icontains=term) | Q(theme__in=themes)), False

    def save_model(self, request: HttpRequest, obj: Review, form, change: bool) -> None:
        if change and "is_hidden" in form.changed_data:
            review_set_hidden(review=obj, hidden=obj.is_hidden)

    def delete_model(self, request: HttpRequest, obj: Review) -> None:
        review_delete(review=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        for review in queryset.order_by("theme_id", "pk"):
            review_delete(review=review)

    @admin.action(description="Hide selected reviews (not listed, not counted)", permissions=["change"])
    def hide_reviews(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        self._set_hidden(request, queryset, hidden=True)

    @admin.action(description="Unhide selected reviews", permissions=["change"])
    def unhide_reviews(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        self._set_hidden(request, queryset, hidden=False)

    def _set_hidden(self, request: HttpRequest, queryset: QuerySet[Review], *, hidden: bool) -> None:
        changed = 0
        for review in queryset.exclude(is_hidden=hidden).order_by("theme_id", "pk"):
            review_set_hidden(review=review, hidden=hidden)
            changed += 1
        verb = "hidden" if hidden else "unhidden"
        self.message_user(request, f"{changed} review(s) {verb}.", messages.SUCCESS)
