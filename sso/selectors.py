"""Reads of the sso app."""

import functools

from django.db.models import Q

from accounts import raw_rows as rows
from accounts.domain_verification import domain_key_or_blank
from accounts.folding import casefold_key
from accounts.models import DomainState, Organization, Source, User
from accounts.selectors import email_in_verified_domain
from sso.models import (
    OidcConnection,
    OidcSubject,
    SamlIdentityProvider,
    SpKeyPair,
    SpKeyState,
)


def organization_by_slug(slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


def idp_of(organization: Organization) -> SamlIdentityProvider | None:
    """The organization's identity provider, enabled or not."""
    return (
        SamlIdentityProvider.objects.select_related("organization")
        .filter(organization=organization)
        .first()
    )


@functools.cache
def _idp_by_slug_sql() -> str:
    idp = SamlIdentityProvider
    return (
        f"{rows.select_joined(idp, 'i', 'organization', 'o')} "
        f"WHERE {rows.column(Organization, 'slug', 'o')} = %s "
        f"ORDER BY {rows.column(idp, 'id', 'i')} LIMIT 1"
    )


def organization_and_idp(slug: str) -> tuple[Organization | None, SamlIdentityProvider | None]:
    """The organization and its identity provider (enabled or not); one query when it has
    one (accounts.raw_rows: every SAML request runs it, first, so it stands for the
    connection's health check, raw_rows.fetch_first)."""
    found = rows.fetch_first(_idp_by_slug_sql(), [slug])
    if not found:
        return organization_by_slug(slug), None
    (row,) = found
    idp, idp.organization = rows.instances(row, [SamlIdentityProvider, Organization])
    return idp.organization, idp


def enabled_idp_of(organization: Organization) -> SamlIdentityProvider | None:
    idp = idp_of(organization)
    return idp if idp is not None and idp.enabled else None


def oidc_connection_of(organization: Organization) -> OidcConnection | None:
    """The organization's OpenID Connect connection, active or not."""
    connection = OidcConnection.objects.filter(organization=organization).first()
    if connection is not None:
        connection.organization = organization
    return connection


@functools.cache
def _oidc_connection_sql() -> str:
    return (
        f"{rows.select_joined(OidcConnection, 'c', 'organization', 'o')} "
        f"WHERE {rows.column(OidcConnection, 'id', 'c')} = %s "
        f"AND {rows.column(Organization, 'slug', 'o')} = %s"
    )


def oidc_connection_by_id(connection_id: int, slug: str) -> OidcConnection | None:
    """The connection a sign-in began with, if it is still the organization's at `slug`,
    with its organization; one statement (accounts.raw_rows: every callback runs it)."""
    found = rows.fetch(_oidc_connection_sql(), [connection_id, slug])
    if not found:
        return None
    (row,) = found
    connection, connection.organization = rows.instances(row, [OidcConnection, Organization])
    return connection


@functools.cache
def _linked_user_sql() -> str:
    subject, user, organization = OidcSubject, User, Organization
    return (
        f"SELECT {rows.columns(user, 'u')}, {rows.columns(organization, 'o')} "  # noqa: S608
        f"FROM {rows.table(subject)} s "
        f"JOIN {rows.table(user)} u ON {rows.column(user, 'id', 'u')} = "
        f"{rows.column(subject, 'user', 's')} "
        f"JOIN {rows.table(organization)} o ON {rows.column(organization, 'id', 'o')} = "
        f"{rows.column(user, 'organization', 'u')} "
        f"WHERE {rows.column(subject, 'connection', 's')} = %s "
        f"AND {rows.column(subject, 'sub', 's')} = %s"
    )


def oidc_linked_user(connection: OidcConnection, sub: str) -> User | None:
    """The person the provider's subject is linked to, with their organization; one
    statement (accounts.raw_rows: every sign-in of a known person runs it)."""
    found = rows.fetch(_linked_user_sql(), [connection.pk, sub])
    if not found:
        return None
    (row,) = found
    user, user.organization = rows.instances(row, [User, Organization])
    return user


def active_connection_of(
    organization: Organization,
) -> SamlIdentityProvider | OidcConnection | None:
    """The one connection people sign in through now: the enabled SAML IdP or the
    enabled OIDC connection (sso.services.oidc keeps at most one enabled), or None."""
    idp = enabled_idp_of(organization)
    if idp is not None:
        return idp
    connection = oidc_connection_of(organization)
    return connection if connection is not None and connection.enabled else None


@functools.cache
def _sp_keys_sql() -> str:
    key = SpKeyPair
    return (
        f"SELECT {rows.columns(key, 'k')} FROM {rows.table(key)} k "  # noqa: S608
        f"WHERE {rows.column(key, 'organization', 'k')} = %s "
        f"AND {rows.column(key, 'state', 'k')} IN (%s, %s)"
    )


def sp_keys_of(organization: Organization) -> dict[str, SpKeyPair]:
    """The active and next SP key pairs, keyed by state (accounts.raw_rows)."""
    found = rows.fetch(_sp_keys_sql(), [organization.pk, SpKeyState.ACTIVE, SpKeyState.NEXT])
    keys = [rows.instance(SpKeyPair, row) for row in found]
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
        Q(saml_identity_providers__enabled=True) | Q(oidc_connection__enabled=True),
        domains__domain=key,
        domains__state=DomainState.VERIFIED,
    ).first()


@functools.cache
def _user_by_username_sql() -> str:
    return (
        f"SELECT {rows.columns(User, 'u')} FROM {rows.table(User)} u "  # noqa: S608
        f"WHERE {rows.column(User, 'organization', 'u')} = %s "
        f"AND {rows.column(User, 'username_key', 'u')} = %s"
    )


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
    found = [
        rows.instance(User, row)
        for row in rows.fetch(_user_by_username_sql(), [organization.pk, key])
    ]
    for user in found:
        user.organization = organization
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
