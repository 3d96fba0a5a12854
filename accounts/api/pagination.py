"""The one envelope of every list: {"data": [...], "next_cursor": ..., "has_more": ...}."""

from urllib.parse import parse_qs, urlsplit

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination, CursorPagination
from rest_framework.response import Response

from accounts.events import stream

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def limit_from(request) -> int:
    """?limit=<n>: default 100, at most 500; anything but a positive integer is a 400."""
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise ValidationError({"limit": "limit must be a positive integer."}) from None
    if limit < 1:
        raise ValidationError({"limit": "limit must be a positive integer."})
    return min(limit, MAX_LIMIT)


class DirectoryCursorPagination(CursorPagination):
    """DRF's cursor pagination (no OFFSET scans) under `?after=`, in the API's envelope."""

    cursor_query_param = "after"
    page_size = DEFAULT_LIMIT
    max_page_size = MAX_LIMIT
    ordering = ("created_at", "id")

    def get_page_size(self, request):
        return limit_from(request)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError(
                {"after": "The cursor is malformed; pass next_cursor as a page returned it."}
            ) from None

    def encode_cursor(self, cursor):
        # DRF builds a next-page URL; the API hands out the opaque cursor alone.
        url = super().encode_cursor(cursor)
        return parse_qs(urlsplit(url).query)[self.cursor_query_param][0]

    def get_paginated_response(self, data):
        return Response(
            {"data": data, "next_cursor": self.get_next_link(), "has_more": self.has_next}
        )


class EventStreamPagination(BasePagination):
    """The event stream's positions (accounts.events.stream): never a null next_cursor."""

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get("after")
        try:
            after = stream.decode_cursor(raw) if raw else None
        except stream.InvalidCursor as error:
            raise ValidationError({"after": str(error)}) from None
        self.page = stream.events_page(
            queryset,
            after=after,
            limit=limit_from(request),
            types=view.event_types(),
        )
        return self.page.events

    def get_paginated_response(self, data):
        return Response(
            {"data": data, "next_cursor": self.page.next_cursor, "has_more": self.page.has_more}
        )
