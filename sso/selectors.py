"""Reads of the sso app."""

from django.db.models import Q

from accounts.domain_verification import domain_key_or_blank
from accounts.folding import casefold_key
from accounts.models import DomainState, Organization, Source, User
from accounts.selectors import email_in_verified_domain
from sso.models import SamlIdentityProvider, SpKeyPair, SpKeyState


def organization_by_slug(slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


def idp_of(organization: Organization) -> SamlIdentityProvider | None:
    """The organization's identity provider, enabled or not."""
    return (
        SamlIdentityProvider.objects.select_related("organization")
        .filter(organization=organization)
        .first()
    )


def organization_and_idp(slug: str) -> tuple[Organization | None, SamlIdentityProvider | None]:
    """The organization and its identity provider (enabled or not); one query when it has one."""
    idp = (
        SamlIdentityProvider.objects.select_related("organization")
        .filter(organization__slug=slug)
        .order_by("pk")
        .first()
    )
    if idp is not None:
        return idp.organization, idp
    return organization_by_slug(slug), None


def enabled_idp_of(organization: Organization) -> SamlIdentityProvider | None:
    idp = idp_of(organization)
    return idp if idp is not None and idp.enabled else None


def sp_keys_of(organization: Organization) -> dict[str, SpKeyPair]:
    """The active and next SP key pairs, keyed by state."""
    keys = SpKeyPair.objects.filter(
        organization=organization, state__in=[SpKeyState.ACTIVE, SpKeyState.NEXT]
    )
    return {key.state: key for key in keys}


def organization_for_email_domain(domain: str) -> Organization | None:
    """The organization with single sign-on on that holds `domain` verified.

    One indexed lookup (the partial unique index on verified domains): users' emails
    are never scanned, so a user provisioned with an address at someone else's domain
    does not capture it. Only the domain is matched, never a person, so the answer
    does not tell whether anyone exists.
    """
    key = domain_key_or_blank(domain)
    if not key:
        return None
    return Organization.objects.filter(
        domains__domain=key,
        domains__state=DomainState.VERIFIED,
        saml_identity_providers__enabled=True,
    ).first()


def user_for_saml_subject(
    organization: Organization, identifier: str, *, match_email: bool
) -> list[User]:
    """Users of the organization an assertion's subject may name, case-insensitively.

    The username comes first: it is unique per organization, and a console-only user
    found by it is returned so the caller can refuse it by name. An email is matched
    only when `match_email` (the IdP sends the address as an attribute it vouches for),
    only when the address is in one of the organization's verified domains (an IdP may
    vouch only for addresses the organization proved it owns), and only among users
    the identity provider owns.
    """
    key = casefold_key(identifier.strip())
    by_username = User.objects.filter(organization=organization, username_key=key).select_related(
        "organization"
    )
    found = list(by_username)
    if found or not match_email or not email_in_verified_domain(organization, identifier):
        return found
    by_email = User.objects.filter(
        idp_managed_q(), organization=organization, email_key=key
    ).select_related("organization")[:2]
    return list(by_email)


def idp_managed_q() -> Q:
    """Users the identity provider owns (User.is_idp_managed, as a query)."""
    return ~Q(source=Source.MANUAL) | Q(idp_linked=True)


def groups_of_user(user: User):
    return user.member_of.order_by("display_name").only("id", "display_name")
