"""Keyset pagination for the console's lists.

Offset pagination reads and throws away every row before the page and needs a count
of the whole result; keyset pagination seeks straight to the page through the
ordering index, so page 2,000 of 100,000 users costs what page 1 costs. The price is
that there are no page numbers: the console offers "Newer/Older" style links.
"""

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Q, QuerySet

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class KeysetPage:
    items: list
    next_cursor: str | None
    previous_cursor: str | None
    is_first: bool

    @property
    def has_other_pages(self) -> bool:
        return self.next_cursor is not None or self.previous_cursor is not None


def page_size_from(value, default: int = DEFAULT_PAGE_SIZE) -> int:
    """A page size from a query string, clamped to what one page may cost."""
    try:
        size = int(value)
    except (TypeError, ValueError):
        return default
    return max(1, min(size, MAX_PAGE_SIZE))


def _encode_value(value):
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"uuid": str(value)}
    return value


def _decode_value(value):
    if isinstance(value, dict) and "dt" in value:
        return datetime.fromisoformat(value["dt"])
    if isinstance(value, dict) and "uuid" in value:
        return uuid.UUID(value["uuid"])
    if isinstance(value, (str, int)):
        return value
    raise ValueError("unsupported cursor value")


def encode_cursor(direction: str, values: list) -> str:
    raw = json.dumps([direction, [_encode_value(v) for v in values]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> tuple[str, list] | None:
    """(direction, values) from a cursor, or None when it is not one we made."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        direction, values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if direction not in ("after", "before") or len(values) != width:
            return None
        return direction, [_decode_value(v) for v in values]
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        return None


def _typed(model, names: list[str], values: list) -> list | None:
    """The cursor's values as the ordering fields' own types, or None if any is not one.

    A cursor comes back from the browser: a hand-edited one must not reach the
    database as a value its column cannot hold.
    """
    typed = []
    for name, value in zip(names, values, strict=True):
        try:
            field = model._meta.get_field(name)
            if value is None or isinstance(value, bool):
                return None
            value = field.to_python(value)
        except (FieldDoesNotExist, ValidationError, TypeError, ValueError):
            return None
        if isinstance(value, datetime) and value.tzinfo is None:
            return None
        typed.append(value)
    return typed


def _beyond(ordering: tuple[str, ...], values: list, forward: bool) -> Q:
    """Rows strictly after `values` in `ordering` (or strictly before when not forward).

    For ordering (a, b) this is  a > va  OR  (a = va AND b > vb),  with > flipped to <
    for descending fields and for the backward direction.
    """
    condition = Q()
    equal_so_far = Q()
    for field, value in zip(ordering, values, strict=True):
        name = field.lstrip("-")
        descending = field.startswith("-")
        lookup = "lt" if descending == forward else "gt"
        condition |= equal_so_far & Q(**{f"{name}__{lookup}": value})
        equal_so_far &= Q(**{name: value})
    return condition


def _reversed(ordering: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f[1:] if f.startswith("-") else f"-{f}" for f in ordering)


def keyset_page(
    queryset: QuerySet, *, ordering: tuple[str, ...], cursor: str, size: int
) -> KeysetPage:
    """One page of `queryset` in `ordering` (whose last field must be unique), in one query."""
    names = [f.lstrip("-") for f in ordering]
    decoded = decode_cursor(cursor, len(ordering))
    if decoded is not None:
        values = _typed(queryset.model, names, decoded[1])
        decoded = (decoded[0], values) if values is not None else None
    forward = decoded is None or decoded[0] == "after"
    if decoded is not None:
        queryset = queryset.filter(_beyond(ordering, decoded[1], forward))
    queryset = queryset.order_by(*(ordering if forward else _reversed(ordering)))
    rows = list(queryset[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()

    def key(row):
        return [getattr(row, name) for name in names]

    next_cursor = previous_cursor = None
    if rows:
        if more or not forward:
            next_cursor = encode_cursor("after", key(rows[-1]))
        if decoded is not None and (forward or more):
            previous_cursor = encode_cursor("before", key(rows[0]))
    return KeysetPage(
        items=rows,
        next_cursor=next_cursor,
        previous_cursor=previous_cursor,
        is_first=previous_cursor is None,
    )
