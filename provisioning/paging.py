"""Which rows a list page holds, at the same cost on the first page and the last.

Index paging (RFC 7644 §3.4.2.4): `startIndex` counts from the first row, and OFFSET
walks every row before it. When the list is an organization's users or groups in
creation order, the page that follows a full page starts right after that page's last
row, so the last key of each full page is remembered (SeekHints) and the next page
seeks to it through the (organization, created_at, id) index instead of walking.
OFFSET remains the answer when no key is remembered.

Cursor paging (RFC 9865, draft-ietf-scim-cursor-pagination): `cursor` names the last
row of the previous page, signed (ListCursor), and the page seeks from it.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.core.signing import BadSignature, SignatureExpired, TimestampSigner
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from accounts.derived_keys import derive_key
from accounts.models import Organization
from accounts.selectors import parse_id
from provisioning import counts
from provisioning.errors import INVALID_VALUE, BadRequest
from provisioning.listing import EXPIRED_CURSOR, INVALID_COUNT, INVALID_CURSOR, ListParams

# The order both seek on: creation, then id; the (organization, created_at, id)
# indexes of users and groups serve it.
CREATION_ORDER = ("created_at", "id")
# Shallower offsets are cheap to walk; the hints start there, so small organizations
# never touch the cache.
SEEK_FROM = 1000
HINT_SECONDS = 15 * 60
# The least time a cursor stays valid between two page requests (advertised as the
# ServiceProviderConfig's pagination.cursorTimeout).
CURSOR_TIMEOUT = 3600
# Longer cursors than any this service signs are refused before being looked at.
CURSOR_MAX_LENGTH = 512


@dataclass(frozen=True)
class Page:
    ids: list
    total: int
    next_cursor: str | None = None


Key = tuple[datetime, object]


def after(rows: QuerySet, key: Key) -> QuerySet:
    """Rows after `key` in creation order; `created_at >= ...` bounds the index scan."""
    created_at, pk = key
    return rows.filter(Q(created_at__gte=created_at)).exclude(
        Q(created_at=created_at) & Q(pk__lte=pk)
    )


def _keyed(rows: QuerySet, ordering) -> QuerySet:
    return rows.order_by(*ordering).values_list("pk", "created_at")


# -- index paging ------------------------------------------------------------------


class SeekHints:
    """The key of the row before `startIndex`, per organization and count version.

    The version changes with every insert or delete in the organization's resource
    (provisioning.counts), and only those move rows between positions, so a hint is
    never read for a list it was not true of. A miss costs an OFFSET, not a wrong page.
    """

    def __init__(self, organization: Organization, resource: str, version: str | None):
        self.prefix = f"scim-seek:{organization.pk}:{resource}:{version}"
        self.usable = version is not None

    def get(self, start_index: int) -> Key | None:
        if not self.usable or start_index - 1 < SEEK_FROM:
            return None
        found = cache.get(f"{self.prefix}:{start_index}")
        if not found:
            return None
        created_at, pk = found
        return parse_datetime(created_at), pk

    def remember(self, start_index: int, key: Key) -> None:
        if self.usable and start_index - 1 >= SEEK_FROM:
            created_at, pk = key
            cache.set(f"{self.prefix}:{start_index}", (created_at.isoformat(), pk), HINT_SECONDS)


def index_page(
    matching: QuerySet,
    params: ListParams,
    *,
    ordering,
    organization: Organization,
    resource: str,
) -> Page:
    """A page by startIndex: ids, then the total (kept, or counted when the page does
    not say it). A page that ends the list says its total itself, so a lookup that
    finds nothing, as Okta's and Entra's `userName eq` checks usually do, is one query."""
    creation_order = params.filter is None and params.sort_by is None
    tally = None
    hints = None
    if creation_order and params.start_index > 1:
        tally = counts.tally(organization, resource, matching)
        hints = SeekHints(organization, resource, tally.version)
    rows = []
    if params.reaches_rows:
        key = hints.get(params.start_index) if hints else None
        if key is not None:
            rows = list(after(_keyed(matching, ordering), key)[: params.count])
        else:
            offset = params.offset
            # Deferred join: skip through the ordering index alone (an index-only
            # scan), then load just this page's rows by primary key.
            rows = list(_keyed(matching, ordering)[offset : offset + params.count])
    offset, count = params.offset, params.count
    ends_the_list = 0 < len(rows) < count or (not rows and offset == 0 < count)
    if tally is None and creation_order and not ends_the_list:
        # Read after the page: good for the total, not for a hint (its version must be
        # read before the rows it describes).
        tally = counts.tally(organization, resource, matching)
    if tally is not None:
        total = tally.total
    else:
        total = offset + len(rows) if ends_the_list else matching.count()
    if hints and rows and len(rows) == count:
        pk, created_at = rows[-1]
        hints.remember(params.start_index + count, (created_at, pk))
    return Page(ids=[pk for pk, _ in rows], total=total)


# -- cursor paging -----------------------------------------------------------------


def _signer() -> TimestampSigner:
    # "." separates the parts: RFC 9865 §2 allows only RFC 3986 unreserved characters.
    return TimestampSigner(key=derive_key("roster.scim-cursor.v1").hex(), sep=".")


def _filter_digest(query: str | None) -> str:
    return hashlib.sha256((query or "").encode()).hexdigest()[:16]


def cursor_for(organization: Organization, resource: str, query: str | None, key: Key) -> str:
    created_at, pk = key
    payload = [organization.pk, resource, _filter_digest(query), created_at.isoformat(), str(pk)]
    return _signer().sign_object(payload)


def _invalid(detail: str) -> BadRequest:
    return BadRequest(
        f"{detail} Start again with an empty cursor, then send each nextCursor as given.",
        scim_type=INVALID_CURSOR,
    )


def key_of(cursor: str, organization: Organization, resource: str, query: str | None) -> Key:
    """The last key of the previous page; 400 invalidCursor or expiredCursor otherwise.

    A cursor is good for the organization, resource and filter it was made for, for
    CURSOR_TIMEOUT seconds after the page that gave it.
    """
    if len(cursor) > CURSOR_MAX_LENGTH:
        raise _invalid("The cursor is not one this service gave.")
    try:
        payload = _signer().unsign_object(cursor, max_age=CURSOR_TIMEOUT)
    except SignatureExpired:
        raise BadRequest(
            f"The cursor has expired (after {CURSOR_TIMEOUT} seconds). Start again with an "
            "empty cursor.",
            scim_type=EXPIRED_CURSOR,
        ) from None
    except (BadSignature, ValueError):
        raise _invalid("The cursor is not one this service gave.") from None
    if not isinstance(payload, list) or len(payload) != 5:
        raise _invalid("The cursor is not one this service gave.")
    organization_pk, cursor_resource, digest, created_at, pk = payload
    if (organization_pk, cursor_resource) != (organization.pk, resource):
        raise _invalid("The cursor belongs to another list.")
    if digest != _filter_digest(query):
        raise _invalid("The cursor was given for another filter.")
    when = parse_datetime(created_at) if isinstance(created_at, str) else None
    pk = parse_id(pk) if isinstance(pk, str) else None
    if when is None or pk is None:
        raise _invalid("The cursor is not one this service gave.")
    return when, pk


def check_cursor_params(params: ListParams) -> None:
    """What cursor paging does not combine with (RFC 9865 §2.1, §2.2)."""
    if params.start_index > 1:
        raise BadRequest(
            "startIndex and cursor are two ways of paging; send one of them.",
            scim_type=INVALID_VALUE,
        )
    if params.sort_by is not None:
        raise BadRequest(
            "Cursor pages follow creation order; sortBy is for startIndex paging.",
            scim_type=INVALID_VALUE,
        )
    if params.count < 1:
        raise BadRequest(
            "With a cursor, count is between 1 and the maximum page size.",
            scim_type=INVALID_COUNT,
        )


def cursor_page(
    matching: QuerySet, params: ListParams, *, organization: Organization, resource: str
) -> Page:
    """A page from a cursor: one row more than asked for says whether another follows."""
    check_cursor_params(params)
    rows = _keyed(matching, CREATION_ORDER)
    key = key_of(params.cursor, organization, resource, params.filter) if params.cursor else None
    if key is not None:
        rows = after(rows, key)
    rows = list(rows[: params.count + 1])
    more = len(rows) > params.count
    rows = rows[: params.count]
    if params.filter is None:
        total = counts.tally(organization, resource, matching).total
    elif key is None and not more:
        total = len(rows)
    else:
        total = matching.count()
    next_cursor = None
    if more:
        pk, created_at = rows[-1]
        next_cursor = cursor_for(organization, resource, params.filter, (created_at, pk))
    return Page(ids=[pk for pk, _ in rows], total=total, next_cursor=next_cursor)


def service_provider_pagination() -> dict:
    """ServiceProviderConfig `pagination` (RFC 9865 §4): both methods, index by default."""
    from provisioning.schemas import max_page_size

    return {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": max_page_size(),
        "maxPageSize": max_page_size(),
        "cursorTimeout": CURSOR_TIMEOUT,
    }
