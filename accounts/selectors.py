"""Reads of the accounts domain, with the joins and prefetches they need."""

import uuid

from django.db.models import Count, Prefetch, QuerySet
from django.db.models.functions import Lower

from accounts.domain_verification import domain_key_or_blank, email_domain_key
from accounts.folding import casefold_key
from accounts.models import (
    CustomAttribute,
    DomainState,
    Group,
    Membership,
    Organization,
    OrganizationDomain,
    User,
)


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


def domains_of(organization: Organization) -> QuerySet[OrganizationDomain]:
    return OrganizationDomain.objects.filter(organization=organization).order_by("domain")


def verified_domain_names(organization: Organization) -> list[str]:
    verified = domains_of(organization).filter(state=DomainState.VERIFIED)
    return list(verified.values_list("domain", flat=True))


def domain_of(organization: Organization, domain_id) -> OrganizationDomain | None:
    return (
        OrganizationDomain.objects.select_related("organization")
        .filter(organization=organization, pk=domain_id)
        .first()
    )


def domain_by_name(organization: Organization, domain: str) -> OrganizationDomain | None:
    """The organization's domain spelled `domain` in any case or IDNA form."""
    key = domain_key_or_blank(domain)
    return OrganizationDomain.objects.filter(organization=organization, domain=key).first()


def organization_for_verified_domain(domain: str) -> Organization | None:
    """The one organization holding `domain` verified (the partial unique index)."""
    key = domain_key_or_blank(domain)
    if not key:
        return None
    verified = (
        OrganizationDomain.objects.select_related("organization")
        .filter(domain=key, state=DomainState.VERIFIED)
        .first()
    )
    return verified.organization if verified is not None else None


def email_in_verified_domain(organization: Organization, email: str) -> bool:
    """Whether `email`'s domain is one the organization has verified."""
    key = email_domain_key(email)
    return (
        bool(key)
        and OrganizationDomain.objects.filter(
            organization=organization, domain=key, state=DomainState.VERIFIED
        ).exists()
    )


def custom_attributes_of(organization: Organization) -> QuerySet[CustomAttribute]:
    return CustomAttribute.objects.filter(organization=organization).order_by("created_at", "id")


def custom_attribute_of(organization: Organization, attribute_id) -> CustomAttribute | None:
    return custom_attributes_of(organization).filter(pk=attribute_id).first()
