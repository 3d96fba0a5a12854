"""Reading the event stream in an order that concurrency cannot break.

Row ids are taken when a transaction inserts, not when it commits, so a transaction
that commits late can leave a row behind a position a reader already passed. On
PostgreSQL each event records `pg_current_xact_id()` of its transaction; the stream is
ordered by (transaction id, row id) and serves only rows of transactions older than the
oldest one still running, `pg_snapshot_xmin(pg_current_snapshot())`: everything below
that horizon has committed or rolled back, so nothing can appear behind it later.
On SQLite, whose writers take one database-wide lock, row ids follow commit order and
the stream is ordered by id alone. docs/events.md explains the scheme.
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.events.models import DirectoryEvent

CURSOR_VERSION = "1"
_HORIZON = RawSQL("pg_snapshot_xmin(pg_current_snapshot())::text::bigint", [])


class InvalidCursor(ValueError):
    """A cursor the stream cannot continue from; the message says why."""


@dataclass(frozen=True)
class Position:
    transaction_id: int
    event_id: int
    # When the position was handed out (or the event's time, mid-stream): a position
    # older than the retention period may have lost events after it.
    at: datetime


def encode_cursor(position: Position) -> str:
    at = int(position.at.timestamp())
    raw = f"{CURSOR_VERSION}:{position.transaction_id}:{position.event_id}:{at}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, now: datetime | None = None) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, transaction_id, event_id, at = raw.split(":")
        if version != CURSOR_VERSION:
            raise ValueError
        position = Position(
            int(transaction_id), int(event_id), datetime.fromtimestamp(int(at), tz=UTC)
        )
    except (ValueError, UnicodeDecodeError, binascii.Error, OverflowError, OSError):
        raise InvalidCursor(
            "The cursor is malformed; pass next_cursor exactly as a previous page returned it."
        ) from None
    now = now or timezone.now()
    if position.at < now - timedelta(days=settings.EVENT_RETENTION_DAYS):
        raise InvalidCursor(
            f"The cursor is older than the event retention ({settings.EVENT_RETENTION_DAYS} "
            "days), so events after it may be gone: rebuild from the read API and follow "
            "the stream again from its start."
        )
    return position


def ordered_by_commit() -> bool:
    return connection.vendor == "postgresql"


def _visible(events: QuerySet[DirectoryEvent]) -> QuerySet[DirectoryEvent]:
    if ordered_by_commit():
        return events.filter(transaction_id__lt=_HORIZON).order_by("transaction_id", "id")
    return events.order_by("id")


def _after(events: QuerySet[DirectoryEvent], position: Position) -> QuerySet[DirectoryEvent]:
    if ordered_by_commit():
        # The first condition bounds the index range; the second skips the rows of the
        # position's own transaction already served.
        return events.filter(transaction_id__gte=position.transaction_id).filter(
            Q(transaction_id__gt=position.transaction_id) | Q(id__gt=position.event_id)
        )
    return events.filter(id__gt=position.event_id)


@dataclass(frozen=True)
class Page:
    events: list[DirectoryEvent]
    next_cursor: str
    has_more: bool


def events_page(
    events: QuerySet[DirectoryEvent],
    *,
    after: Position | None,
    limit: int,
    types: list[str] | None = None,
) -> Page:
    """Up to `limit` of `events` (one organization's) after `after`.

    next_cursor is where to continue, never null: at the end of the stream it is the
    position to poll from next.
    """
    events = _visible(events)
    if after is not None:
        events = _after(events, after)
    if types:
        events = events.filter(type__in=types)
    rows = list(events[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    now = timezone.now()
    if rows:
        last = rows[-1]
        position = Position(
            last.transaction_id or 0, last.id, last.occurred_at if has_more else now
        )
    elif after is not None:
        position = Position(after.transaction_id, after.event_id, now)
    else:
        position = Position(0, 0, now)
    return Page(events=rows, next_cursor=encode_cursor(position), has_more=has_more)
