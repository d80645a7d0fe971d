from __future__ import annotations

from django.contrib import admin
from django.db.models import Min, QuerySet
from django.http import HttpRequest

from bookwise import outbox
from bookwise.admin_tools import EstimatedCountPaginator, ReadOnlyAdminMixin
from bookwise.models import EmailKind, EmailLog, OutboxMessage, OutboxState


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


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Tasks queued after a commit (bookwise.outbox): pending ones wait for the broker, sent ones are kept a while.

    Many pending rows, or an old one, mean the broker (Redis) or the beat/worker
    running the sweeper is down; last_error says why the last publish failed.
    """

    list_display = ("id", "task_name", "args", "state", "attempts", "available_at", "created_at", "sent_at")
    list_filter = ("state",)
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        pending = outbox.pending_count()
        # Both read only the pending rows, through the partial index of the sweeper's claim.
        oldest = OutboxMessage.objects.filter(state=OutboxState.PENDING).aggregate(oldest=Min("created_at"))["oldest"]
        title = f"Outbox messages: {pending} pending"
        if oldest is not None:
            title += f", oldest queued {oldest:%Y-%m-%d %H:%M:%S %Z}"
        return super().changelist_view(request, extra_context={"title": title, **(extra_context or {})})
