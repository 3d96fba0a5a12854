"""Reads of the accounts domain, with the joins and prefetches they need."""

import uuid

from django.db.models import Count, Prefetch, QuerySet
from django.db.models.functions import Lower

from accounts.folding import casefold_key
from accounts.models import Group, Membership, Organization, User


def user_by_username(organization: Organization, username: str) -> User | None:
    """The user whose userName is `username` in any case (the unique key's index)."""
    return User.objects.filter(
        organization=organization, username_key=casefold_key(username)
    ).first()


def users_by_email(organization: Organization, email: str) -> QuerySet[User]:
    return User.objects.filter(organization=organization, email_key=casefold_key(email))


def users_of(organization: Organization) -> QuerySet[User]:
    return User.objects.filter(organization=organization).order_by("created_at", "id")


def users_with_groups(organization: Organization) -> QuerySet[User]:
    """Users with their groups loaded in one extra query per page."""
    return users_of(organization).prefetch_related(
        Prefetch(
            "memberships",
            queryset=Membership.objects.select_related("group").order_by("group__display_name"),
        )
    )


def parse_id(value) -> uuid.UUID | None:
    """A resource id as a UUID, or None when it cannot be one of ours."""
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def users_by_ids(organization: Organization, ids) -> dict[str, User]:
    """The organization's users among `ids`, keyed by str(id); others are simply absent."""
    parsed = {p for p in map(parse_id, ids) if p is not None}
    if not parsed:
        return {}
    return {str(u.pk): u for u in User.objects.filter(organization=organization, pk__in=parsed)}


def groups_of(organization: Organization) -> QuerySet[Group]:
    return Group.objects.filter(organization=organization).order_by("created_at", "id")


def groups_with_member_counts(organization: Organization) -> QuerySet[Group]:
    return groups_of(organization).annotate(member_count=Count("memberships"))


def group_by_display_name(organization: Organization, display_name: str) -> Group | None:
    return (
        Group.objects.alias(name_lower=Lower("display_name"))
        .filter(organization=organization, name_lower=display_name.lower())
        .first()
    )


def group_members(group: Group) -> QuerySet[User]:
    return User.objects.filter(memberships__group=group).order_by("username", "id")
