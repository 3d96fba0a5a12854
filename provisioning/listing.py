"""List and search parameters (RFC 7644 §3.4.2, §3.4.3) and the ListResponse they produce."""

import re
from dataclasses import dataclass

from provisioning.errors import INVALID_VALUE, BadRequest
from provisioning.schemas import max_page_size


def _names(name: str, raw):
    """attributes / excludedAttributes: a comma-separated string or a list of strings."""
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return raw
    raise BadRequest(f"{name} must be a string or a list of strings.", scim_type=INVALID_VALUE)


# RFC 9865 §2.1: a cursor this service did not give, or gave too long ago.
INVALID_CURSOR = "invalidCursor"
EXPIRED_CURSOR = "expiredCursor"
INVALID_COUNT = "invalidCount"

# An integer as RFC 7644 §3.4.2.4 means it: ASCII digits, an optional sign, nothing else
# (no "1.5", "1e3", "0x10", "1_000" or non-ASCII digits, which int() would take).
_INTEGER = re.compile(r"[+-]?[0-9]+")
# The deepest offset any database is asked for: OFFSET is a signed 64-bit number on
# PostgreSQL and SQLite, and no organization comes near it, so a startIndex beyond it
# answers an empty page without a query (it once failed with "bigint out of range").
MAX_OFFSET = 2**62


def _integer(name: str, raw, default: int) -> int:
    if raw is None or raw == "":
        return default
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and _INTEGER.fullmatch(raw.strip()):
        try:
            return int(raw.strip())
        except ValueError:  # longer than Python converts (sys.get_int_max_str_digits)
            pass
    raise BadRequest(f"{name} must be an integer.", scim_type=INVALID_VALUE)


@dataclass(frozen=True)
class ListParams:
    filter: str | None
    start_index: int
    count: int
    sort_by: str | None
    descending: bool
    attributes: object
    excluded_attributes: object
    # RFC 9865: None is index paging; "" asks for the first page of cursor paging.
    cursor: str | None = None

    @property
    def offset(self) -> int:
        return self.start_index - 1

    @property
    def reaches_rows(self) -> bool:
        """Whether the page can hold any row: count > 0 and an offset a database takes."""
        return self.count > 0 and self.offset <= MAX_OFFSET

    @classmethod
    def read(cls, source: dict) -> "ListParams":
        """From query parameters or a SearchRequest body (same names, RFC 7644 §3.4.3)."""
        limit = max_page_size()
        # RFC 7644 §3.4.2.4: startIndex < 1 is read as 1, a negative count as 0, and
        # the service may return fewer results than asked for.
        start_index = max(_integer("startIndex", source.get("startIndex"), 1), 1)
        count = min(max(_integer("count", source.get("count"), limit), 0), limit)
        sort_order = source.get("sortOrder") or "ascending"
        if not isinstance(sort_order, str) or sort_order.lower() not in (
            "ascending",
            "descending",
        ):
            raise BadRequest("sortOrder is ascending or descending.", scim_type=INVALID_VALUE)
        query = source.get("filter")
        if query is not None and not isinstance(query, str):
            raise BadRequest("filter must be a string.", scim_type=INVALID_VALUE)
        sort_by = source.get("sortBy")
        if sort_by is not None and not isinstance(sort_by, str):
            raise BadRequest("sortBy must be a string.", scim_type=INVALID_VALUE)
        cursor = source.get("cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise BadRequest("cursor must be a string.", scim_type=INVALID_CURSOR)
        return cls(
            cursor=cursor.strip() if cursor is not None else None,
            filter=query or None,
            start_index=start_index,
            count=count,
            sort_by=sort_by or None,
            descending=sort_order.lower() == "descending",
            attributes=_names("attributes", source.get("attributes")),
            excluded_attributes=_names("excludedAttributes", source.get("excludedAttributes")),
        )
