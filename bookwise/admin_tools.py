"""Helpers for admin changelists over tables with millions of rows.

Django's changelist counts its rows with `COUNT(*)` on every page view; over
millions of rows that is a full scan each time. Unfiltered, PostgreSQL's own
row estimate (kept up to date by autovacuum) is good enough to draw the page
links; filtered or searched changelists still count exactly. Pair with
`show_full_result_count = False`.

Searches on those tables go through indexes only: an exact id, an exact
email (the users' `LOWER(email)` unique index), an exact Stripe id, word
prefixes of a customer's name or a theme's title (full-text GIN indexes:
`user_full_name_search_idx`, `theme_search_idx`); never a `LIKE '%term%'`
scan across a join. (pg_trgm would allow infix matches, but the embedded
PostgreSQL, pgserver, does not ship it.)
"""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.utils.functional import cached_property

_ID_RE = re.compile(r"#?([0-9]{1,18})")
_WORD_RE = re.compile(r"\w+")
# More words than this in one search are ignored: each one is a GIN lookup.
_MAX_WORDS = 6


def estimated_row_count(queryset: QuerySet) -> int:
    """PostgreSQL's estimate of the rows in the queryset's table; -1 when never analysed."""
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [queryset.model._meta.db_table],
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else -1


class EstimatedCountPaginator(Paginator):
    # Below this the exact count is cheap, and exact numbers matter more than speed.
    exact_below = 100_000

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if isinstance(qs, QuerySet) and not qs.query.where and not qs.query.distinct:
            estimate = estimated_row_count(qs)
            if estimate >= self.exact_below:
                return estimate
        return super().count


def parse_id(term: str) -> int | None:
    """`123` or `#123` as an id; None for anything else (including ids too big for a bigint)."""
    match = _ID_RE.fullmatch(term.strip())
    return int(match.group(1)) if match else None


def users_with_email(term: str) -> QuerySet:
    """The user whose email is `term`, case-insensitively, through the LOWER(email) unique index."""
    user_model = get_user_model()
    return user_model.objects.alias(email_lower=Lower("email")).filter(email_lower=term.strip().lower())


def search_by_id_or_email(queryset: QuerySet, term: str, *, id_field: str, user_field: str) -> QuerySet | None:
    """Index-only admin search: `123`/`#123` matches `id_field`, an email matches `user_field`'s user.

    None when the term is neither, so each admin decides what free text means.
    """
    pk = parse_id(term)
    if pk is not None:
        return queryset.filter(**{id_field: pk})
    if "@" in term:
        return queryset.filter(**{f"{user_field}__in": users_with_email(term)})
    return None


def prefix_tsquery(term: str) -> str | None:
    """`anna sch` -> `anna:* & sch:*` (every word a prefix, all required); None when there is no word.

    Only word characters reach the query text, so no input can break the tsquery syntax.
    """
    words = _WORD_RE.findall(term.lower())[:_MAX_WORDS]
    return " & ".join(f"{word}:*" for word in words) or None


def users_named(term: str) -> QuerySet:
    """Users whose full name has every word of `term` as a word prefix (the `user_full_name_search_idx` GIN index)."""
    from django.contrib.postgres.search import SearchQuery, SearchVector

    query = prefix_tsquery(term)
    user_model = get_user_model()
    if query is None:
        return user_model.objects.none()
    return user_model.objects.annotate(name_vector=SearchVector("full_name", config="simple")).filter(
        name_vector=SearchQuery(query, search_type="raw", config="simple")
    )


def themes_titled(theme_queryset: QuerySet, term: str) -> QuerySet:
    """Themes whose title or description has every word of `term` as a prefix (the `theme_search_idx` index)."""
    from django.contrib.postgres.search import SearchQuery

    query = prefix_tsquery(term)
    if query is None:
        return theme_queryset.none()
    return theme_queryset.filter(search_vector=SearchQuery(query, search_type="raw", config="english"))


class ReadOnlyAdminMixin:
    """Rows written only by services (audit trails, Stripe mirrors): admins look, never add, edit or delete."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ServiceOwnedAdminMixin:
    """Rows that only services change (bookings, payments): the change form is view-only.

    Saving a form rewrites every column without the row lock the services
    take, so it could silently undo a concurrent change (a webhook confirming
    the booking). Admin actions, which call the services, stay available: they
    need the change permission at the changelist level (`obj is None`).
    """

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
