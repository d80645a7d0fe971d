from django.core.paginator import Page, Paginator
from rest_framework.pagination import CursorPagination, PageNumberPagination


class DefaultPagination(PageNumberPagination):
    """Page numbers for small lists (a theme's slots, reviews)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class FirstPageCountingPaginator(Paginator):
    """A Paginator whose first page is read before the count, with one row more than a page.

    When that first page holds the whole list (a slot's participants nearly
    always do), its length is the count: one query instead of COUNT(*) + the
    page. A longer list costs the same two queries as before (that read and the COUNT).
    """

    def page(self, number) -> Page:
        try:
            first = int(number) == 1
        except (TypeError, ValueError):
            first = False
        if not first or "count" in self.__dict__:
            return super().page(number)
        rows = list(self.object_list[: self.per_page + 1])
        if len(rows) <= self.per_page:
            self.__dict__["count"] = len(rows)  # primes the cached_property: no COUNT(*)
        return self._get_page(rows[: self.per_page], 1, self)


class SmallListPagination(DefaultPagination):
    """DefaultPagination (same page numbers and `count`) for lists that usually fit on one page."""

    django_paginator_class = FirstPageCountingPaginator


class NewestFirstCursorPagination(CursorPagination):
    """Keyset pagination for lists over large tables: no COUNT(*), stable under inserts."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")


class NoCountPagination(PageNumberPagination):
    """Page numbers without COUNT(*): fetch one row more than asked to know if a next page exists.

    For filtered lists over large tables (the catalog) where any ordering is allowed.
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset, request, view=None):
        from rest_framework.exceptions import NotFound

        self.request = request
        page_size = self.get_page_size(request)
        try:
            self.page_number = int(request.query_params.get(self.page_query_param, 1))
        except (TypeError, ValueError):
            raise NotFound("Invalid page.") from None
        if self.page_number < 1 or self.page_number > 10_000:
            raise NotFound("Invalid page.")
        offset = (self.page_number - 1) * page_size
        rows = list(queryset[offset : offset + page_size + 1])
        self.has_next = len(rows) > page_size
        return rows[:page_size]

    def get_paginated_response(self, data):
        from rest_framework.response import Response
        from rest_framework.utils.urls import remove_query_param, replace_query_param

        url = self.request.build_absolute_uri()
        next_url = replace_query_param(url, self.page_query_param, self.page_number + 1) if self.has_next else None
        if self.page_number <= 1:
            previous_url = None
        elif self.page_number == 2:
            previous_url = remove_query_param(url, self.page_query_param)
        else:
            previous_url = replace_query_param(url, self.page_query_param, self.page_number - 1)
        return Response({"next": next_url, "previous": previous_url, "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }
