"""Reads of provisioning tokens and of the latest SCIM activity."""

from django.core.cache import cache
from django.db.models import Prefetch, QuerySet

from accounts.models import Group, Membership, Organization, User
from provisioning import tokens
from provisioning.models import ProvisioningToken

# The latest SCIM request per organization lives in the shared cache: written on
# every request, so never in the database.
LAST_REQUEST_CACHE_KEY = "scim:last-request:{organization_id}"
LAST_REQUEST_TTL = 60 * 60 * 24 * 30


def tokens_of(organization: Organization) -> QuerySet[ProvisioningToken]:
    """The organization's tokens, newest first, with who created them."""
    return (
        ProvisioningToken.objects.filter(organization=organization)
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )


def token_for_secret(secret: str) -> ProvisioningToken | None:
    """The token whose secret this is, live or not; None for anything else.

    One indexed lookup by prefix, then a constant-time digest comparison.
    """
    prefix = tokens.prefix_of(secret)
    if prefix is None:
        return None
    token = ProvisioningToken.objects.select_related("organization").filter(prefix=prefix).first()
    if token is None or not tokens.matches(secret, token.digest):
        return None
    return token


def last_scim_request(organization: Organization) -> dict | None:
    """{at, token_prefix, token_label, method, path, status} of the latest request, or None."""
    return cache.get(LAST_REQUEST_CACHE_KEY.format(organization_id=organization.pk))


def remember_scim_request(*, token: ProvisioningToken, record: dict) -> None:
    cache.set(
        LAST_REQUEST_CACHE_KEY.format(organization_id=token.organization_id),
        record,
        timeout=LAST_REQUEST_TTL,
    )


def with_user_groups(users: QuerySet[User]) -> QuerySet[User]:
    """Users with their groups, loaded in one extra query per page."""
    return users.prefetch_related(
        Prefetch(
            "memberships",
            queryset=Membership.objects.select_related("group")
            .only("user_id", "group_id", "group__display_name")
            .order_by("group__display_name", "group_id"),
        )
    )


def with_group_members(groups: QuerySet[Group]) -> QuerySet[Group]:
    """Groups with their members, loaded in one extra query per page."""
    return groups.prefetch_related(
        Prefetch(
            "memberships",
            queryset=Membership.objects.select_related("user")
            .only("group_id", "user_id", "user__username", "user__display_name")
            .order_by("user__username", "user_id"),
        )
    )


def scim_users(organization: Organization, *, with_groups: bool = True) -> QuerySet[User]:
    users = User.objects.filter(organization=organization)
    return with_user_groups(users) if with_groups else users


def scim_groups(organization: Organization, *, with_members: bool = True) -> QuerySet[Group]:
    groups = Group.objects.filter(organization=organization)
    return with_group_members(groups) if with_members else groups
