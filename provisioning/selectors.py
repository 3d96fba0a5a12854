"""Reads of provisioning tokens and of the latest SCIM activity."""

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, OuterRef, Prefetch, QuerySet, Subquery, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from accounts import raw_rows as rows
from accounts.events.fanout import enabled_endpoints_exist_sql, note_enabled_endpoints
from accounts.keyed_secrets import row_for_secret
from accounts.models import Group, Membership, Organization, User
from provisioning.models import ProvisioningToken, ScimRequest
from provisioning.tokens import PROVISIONING_TOKEN


def tokens_of(organization: Organization) -> QuerySet[ProvisioningToken]:
    """The organization's tokens, newest first, with who created them."""
    return (
        ProvisioningToken.objects.filter(organization=organization)
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )


@functools.cache
def _token_lookup_sql() -> str:
    """The token by its prefix, with its organization and whether that organization has
    an enabled webhook endpoint (accounts.raw_rows: every SCIM request runs it first, and
    it stands for the connection's health check, raw_rows.fetch_first)."""
    webhooks = enabled_endpoints_exist_sql(rows.column(Organization, "id", "o"))
    return (
        f"{rows.select_joined(ProvisioningToken, 't', 'organization', 'o', extra=webhooks)} "
        f"WHERE {rows.column(ProvisioningToken, 'prefix', 't')} = %s"
    )


def _token_with_organization(prefix: str) -> ProvisioningToken | None:
    found = rows.fetch_first(_token_lookup_sql(), [prefix])
    if not found:
        return None
    (row,) = found
    token, token.organization = rows.instances(row, [ProvisioningToken, Organization])
    token.webhooks = bool(row[-1])
    return token


def token_for_secret(secret: str) -> ProvisioningToken | None:
    """The token whose secret this is, live or not; None for anything else.

    One lookup by the unique prefix, joined to the organization, then a constant-time
    digest comparison.
    """
    token = row_for_secret(PROVISIONING_TOKEN, secret, by_prefix=_token_with_organization)
    if token is None:
        return None
    # Known with the token, so the request's writes skip the endpoint lookup when none.
    note_enabled_endpoints(token.organization, token.webhooks)
    return token


def last_scim_request(organization: Organization) -> dict | None:
    """{at, token_prefix, token_label, method, path, status} of the latest request, or None.

    Read from the request log the gate writes anyway (the newest row by the
    (organization, at) index), so a request costs no extra write to remember it.
    """
    row = (
        ScimRequest.objects.filter(organization=organization)
        .select_related("token")
        .order_by("-at", "-id")
        .first()
    )
    if row is None:
        return None
    return {
        "at": row.at,
        "token_prefix": row.token.prefix if row.token else "",
        "token_label": row.token.label if row.token else "",
        "method": row.method,
        "path": row.path,
        "status": row.status,
    }


def user_groups_prefetch() -> Prefetch:
    """A user's groups as the SCIM User shows them."""
    return Prefetch(
        "memberships",
        queryset=Membership.objects.select_related("group")
        .only("user_id", "group_id", "group__display_name")
        .order_by("group__display_name", "group_id"),
    )


def group_members_prefetch() -> Prefetch:
    """A group's members as the SCIM Group shows them."""
    return Prefetch(
        "memberships",
        queryset=Membership.objects.select_related("user")
        .only("group_id", "user_id", "user__username", "user__display_name")
        .order_by("user__username", "user_id"),
    )


def with_user_groups(users: QuerySet[User]) -> QuerySet[User]:
    """Users with their groups, loaded in one extra query per page."""
    return users.prefetch_related(user_groups_prefetch())


def with_group_members(groups: QuerySet[Group]) -> QuerySet[Group]:
    """Groups with their members, loaded in one extra query per page."""
    return groups.prefetch_related(group_members_prefetch())


def scim_users(organization: Organization, *, with_groups: bool = True) -> QuerySet[User]:
    # Through the related manager, so each user knows its organization without a query.
    users = organization.users.all()
    return with_user_groups(users) if with_groups else users


def scim_groups(organization: Organization, *, with_members: bool = True) -> QuerySet[Group]:
    groups = organization.groups.all()
    return with_group_members(groups) if with_members else groups


def scim_requests(
    organization: Organization,
    *,
    token_id: int | None = None,
    method: str = "",
    status_class: str = "",
    resource: str = "",
    request_id: str = "",
    since=None,
    until=None,
) -> QuerySet[ScimRequest]:
    """The organization's SCIM request log with the console's filters applied.

    `status_class` is "2xx", "4xx", "5xx" or "failed" (any status of 400 and above).
    """
    rows = ScimRequest.objects.filter(organization=organization).select_related("token")
    if token_id:
        rows = rows.filter(token_id=token_id)
    if method:
        rows = rows.filter(method=method)
    if status_class == "failed":
        rows = rows.filter(status__gte=400)
    elif status_class in STATUS_CLASSES:
        low = int(status_class[0]) * 100
        rows = rows.filter(status__gte=low, status__lt=low + 100)
    if resource:
        rows = rows.filter(resource=resource)
    if request_id:
        rows = rows.filter(request_id=request_id)
    if since:
        rows = rows.filter(at__gte=since)
    if until:
        rows = rows.filter(at__lt=until)
    return rows


STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
# The health banner looks at this many latest requests of a token.
RECENT_REQUESTS = 100


@dataclass
class TokenHealth:
    token: ProvisioningToken
    last_success: datetime | None = None
    last_failure: datetime | None = None
    requests_24h: int = 0
    failures_24h: int = 0
    recent: int = 0
    recent_failures: int = 0
    silent: bool = False

    @property
    def error_rate_24h(self) -> float | None:
        return self.failures_24h / self.requests_24h if self.requests_24h else None

    @property
    def failing(self) -> bool:
        """More than 20% of the latest RECENT_REQUESTS requests failed."""
        return bool(self.recent) and self.recent_failures / self.recent > FAILING_SHARE


FAILING_SHARE = 0.2


def _latest_at(**conditions) -> Subquery:
    rows = ScimRequest.objects.filter(token_id=OuterRef("pk"), **conditions).order_by("-at")
    return Subquery(rows.values("at")[:1])


def _count_since(since: datetime, **conditions) -> Subquery:
    rows = (
        ScimRequest.objects.filter(token_id=OuterRef("pk"), at__gte=since, **conditions)
        .order_by()
        .values("token_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows[:1]), 0)


def provisioning_health(organization: Organization, *, now: datetime | None = None):
    """Per live token: last success and failure, 24-hour error rate, silence, failing share.

    Two queries whatever the log's size, each walking the (token, at) index: the live
    tokens with their latest success, failure and 24-hour counts, then the latest
    RECENT_REQUESTS statuses per token by a window.
    """
    now = now or timezone.now()
    day_ago = now - timedelta(hours=24)
    live = (
        tokens_of(organization)
        .live(now)
        .annotate(
            last_success=_latest_at(status__lt=400),
            last_failure=_latest_at(status__gte=400),
            requests_24h=_count_since(day_ago),
            failures_24h=_count_since(day_ago, status__gte=400),
        )
    )
    health = {
        token.pk: TokenHealth(
            token=token,
            last_success=token.last_success,
            last_failure=token.last_failure,
            requests_24h=token.requests_24h,
            failures_24h=token.failures_24h,
        )
        for token in live
    }
    if not health:
        return []
    recent = (
        ScimRequest.objects.filter(token_id__in=list(health))
        .annotate(rank=Window(RowNumber(), partition_by=[F("token_id")], order_by=[F("at").desc()]))
        .filter(rank__lte=RECENT_REQUESTS)
        .values_list("token_id", "status")
    )
    for token_id, status in recent:
        health[token_id].recent += 1
        health[token_id].recent_failures += status >= 400
    silent_after = timedelta(hours=settings.PROVISIONING_SILENT_HOURS)
    for entry in health.values():
        last = entry.token.last_used_at
        entry.silent = last is not None and now - last > silent_after
    return list(health.values())
