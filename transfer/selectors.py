"""Reads for the console, the person's own page and the decision API, each saying what
it loads."""

import functools
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from accounts import raw_rows as rows
from accounts.domain_verification import email_domain_key
from accounts.models import DomainState, Organization, OrganizationDomain, User
from transfer import decisions
from transfer.models import (
    AppPassword,
    FolderGrant,
    SshKey,
    TransferKey,
    TransferMode,
    TransferPolicy,
    TransferSignIn,
)

RECENT_SIGN_INS = 20


@functools.cache
def _transfer_key_sql() -> str:
    return decisions.transfer_key_sql("%s")


def transfer_key_by_prefix(prefix: str) -> TransferKey | None:
    """The transfer key with that lookup prefix and its organization (none for a platform
    key); one statement (accounts.raw_rows: every decision API request runs it first,
    and it stands for the connection's health check)."""
    found = rows.fetch_first(_transfer_key_sql(), [prefix])
    if not found:
        return None
    (row,) = found
    # A platform key has no organization: the LEFT JOIN's columns are all NULL.
    key, key.organization = rows.instances(row, list(decisions.PRESENTED_MODELS))
    return key


def policy_for(organization: Organization) -> TransferPolicy:
    """The organization's setting; an unsaved 'off' one when it never had one."""
    policy = (
        TransferPolicy.objects.filter(organization=organization)
        .prefetch_related("scope_groups")
        .first()
    )
    return policy or TransferPolicy(organization=organization, mode=TransferMode.OFF)


def login_name_of(user: User) -> str:
    domain = email_domain_key(user.username)
    verified = (
        bool(domain)
        and OrganizationDomain.objects.filter(
            organization_id=user.organization_id, domain=domain, state=DomainState.VERIFIED
        ).exists()
    )
    return decisions.login_name(user, verified=verified)


@dataclass(frozen=True)
class Access:
    """Whether a person may use file transfer, and if not, why, in one sentence."""

    allowed: bool
    why_not: str = ""


def access_of(user: User) -> Access:
    policy = policy_for(user.organization)
    if not user.is_active:
        return Access(False, "Your account is deactivated.")
    if policy.mode == TransferMode.OFF:
        return Access(False, "Your organization has not turned on file transfer.")
    if policy.mode == TransferMode.GROUPS:
        scope = set(policy.scope_groups.values_list("pk", flat=True))
        if not user.memberships.filter(group_id__in=scope).exists():
            names = ", ".join(sorted(group.display_name for group in policy.scope_groups.all()))
            return Access(
                False, f"File transfer is on for members of {names}; you are not one of them."
            )
    return Access(True)


def folders_of(user: User) -> list[dict]:
    grants = FolderGrant.objects.filter(group__memberships__user=user).values_list("path", "access")
    return decisions.folders_of(grants)


def ssh_keys_of(user: User) -> list[SshKey]:
    """The person's keys that are not revoked, oldest first."""
    return list(SshKey.objects.filter(user=user, revoked_at=None).order_by("created_at", "id"))


def app_passwords_of(user: User) -> list[AppPassword]:
    return list(AppPassword.objects.filter(user=user, revoked_at=None))


def own_ssh_key(user: User, key_id: int) -> SshKey | None:
    """The person's key by id, not revoked; None for anyone else's."""
    return SshKey.objects.filter(user=user, pk=key_id, revoked_at=None).first()


def own_app_password(user: User, password_id: int) -> AppPassword | None:
    """The person's app password by id, not revoked; None for anyone else's."""
    return AppPassword.objects.filter(user=user, pk=password_id, revoked_at=None).first()


def sso_enabled(organization: Organization) -> bool:
    """Whether the organization signs its people in through an active connection (an
    enabled SAML identity provider or OpenID Connect provider).

    Read through the relations' names: transfer does not import the sso app.
    """
    return Organization.objects.filter(
        Q(saml_identity_providers__enabled=True) | Q(oidc_connection__enabled=True),
        pk=organization.pk,
    ).exists()


def recent_sign_ins(user: User, limit: int = RECENT_SIGN_INS) -> list[TransferSignIn]:
    return list(TransferSignIn.objects.filter(user=user)[:limit])


def organization_sign_ins(
    organization: Organization,
    *,
    user: User | None = None,
    protocol: str = "",
    allowed: bool | None = None,
    since=None,
):
    """The organization's sign-in log, newest first, filtered (a queryset to paginate)."""
    rows = TransferSignIn.objects.filter(organization=organization).select_related("user")
    if user is not None:
        rows = rows.filter(user=user)
    if protocol:
        rows = rows.filter(protocol=protocol)
    if allowed is not None:
        rows = rows.filter(allowed=allowed)
    if since is not None:
        rows = rows.filter(at__gte=since)
    return rows


def transfer_keys_of(organization: Organization) -> list[TransferKey]:
    return list(TransferKey.objects.filter(organization=organization))


def folder_grants_of(organization: Organization) -> list[FolderGrant]:
    return list(
        FolderGrant.objects.filter(organization=organization)
        .select_related("group")
        .order_by("group__display_name", "path")
    )


@dataclass(frozen=True)
class Endpoint:
    protocol: str
    host: str
    port: int


def endpoints() -> list[Endpoint]:
    """TRANSFER_ENDPOINTS (checked when settings load): what people connect to."""
    return [Endpoint(protocol, host, port) for protocol, host, port in settings.TRANSFER_ENDPOINTS]
