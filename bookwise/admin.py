from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from bookwise.admin_tools import EstimatedCountPaginator, ReadOnlyAdminMixin
from bookwise.models import EmailKind, EmailLog


@admin.register(EmailLog)
class EmailLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Which emails went out (written by bookwise.emails.send_email_once only)."""

    list_display = ("id", "kind", "key", "recipient", "sent_at")
    list_filter = ("kind",)
    search_fields = ("key",)
    search_help_text = "An exact key: a booking id, or <merchant id>@<approval time>, or <user id>:<request id>."
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[EmailLog], search_term: str
    ) -> tuple[QuerySet[EmailLog], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        # Exact keys only. Naming every kind lets the (kind, key) unique index answer with one probe per kind.
        return queryset.filter(kind__in=EmailKind.values, key=term), False
