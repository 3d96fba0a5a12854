"""Login decisions for file servers: may this login name log in now, with this key or
this app password, and to what.

Nothing is cached across logins: every decision reads the organization's setting, the
person, their credential and their groups at that moment, so a SCIM change takes effect
at the very next login. A decision is four statements on PostgreSQL (the transfer key,
the person with their credential, their groups with their folders, the log row), and an
unknown login name costs the same lookups and one digest computation, as a wrong
credential does (docs/transfer.md).
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Case, Exists, F, FilteredRelation, OuterRef, Q, Value, When
from django.utils import timezone

from accounts.domain_verification import domain_key_or_blank
from accounts.folding import casefold_key
from accounts.models import DomainState, Membership, OrganizationDomain, User
from transfer import ssh_keys
from transfer.models import (
    APP_PASSWORD,
    Access,
    CredentialKind,
    Refusal,
    TransferKey,
    TransferMode,
    TransferPolicy,
)

QUALIFIER = "+"
# What an OpenSSH or NSS account name may hold, after folding: never "." or "..", and
# never a leading "-" that a command taking the name as an argument reads as an option.
SYSTEM_NAME = re.compile(r"^(?![.-])[a-z0-9._@+-]+$")
# A login name longer than this is no user's (userName is at most 255 characters).
MAX_LOGIN_LENGTH = 320


@dataclass
class Credential:
    kind: str
    id: str
    label: str
    fingerprint: str = ""


@dataclass
class Decision:
    allowed: bool
    reason: str = ""
    user: User | None = None
    login: str = ""
    credential: Credential | None = None
    credential_pk: int | None = None
    groups: list = field(default_factory=list)
    folders: list = field(default_factory=list)


# -- Login names -------------------------------------------------------------------------


def _username_domain(username: str) -> str:
    local, at, domain = username.rpartition("@")
    return domain_key_or_blank(domain) if at and local else ""


def login_name(user: User, *, verified: bool) -> str:
    """The person's one login name: their userName when it is at a domain their
    organization verified (unique on the platform), else `<org-slug>+<userName>`."""
    if verified:
        return user.username
    return f"{user.organization.slug}{QUALIFIER}{user.username}"


def works_with_system_accounts(login: str) -> bool:
    """Whether OpenSSH and NSS can take the login name as an account name."""
    return bool(SYSTEM_NAME.match(casefold_key(login)))


@dataclass(frozen=True)
class LoginName:
    """A parsed login name: the keys to look its person up by.

    A login name at a verified domain is bare (`bob@acme.example`); any other is
    qualified by its organization (`acme+bob@gmail.com`). Which one a name is can only be
    told by asking whether its domain is verified, so both readings go into one lookup;
    the bare reading wins, since verified domains are unique on the platform.
    """

    login: str
    username_key: str
    domain: str
    slug: str = ""
    qualified_key: str = ""
    qualified_domain: str = ""


def parse_login(login) -> LoginName | None:
    """The readings of a login name; None for what cannot be one."""
    if not isinstance(login, str) or not login.strip() or len(login) > MAX_LOGIN_LENGTH:
        return None
    if any(not c.isprintable() for c in login):
        return None
    slug, plus, rest = login.partition(QUALIFIER)
    qualified = bool(plus and slug and rest and "@" not in slug)
    return LoginName(
        login=login,
        username_key=casefold_key(login),
        domain=_username_domain(login),
        slug=slug.lower() if qualified else "",
        qualified_key=casefold_key(rest) if qualified else "",
        qualified_domain=_username_domain(rest) if qualified else "",
    )


def _verified(domain: str):
    """Whether the person's organization verified `domain` (false for '')."""
    return Exists(
        OrganizationDomain.objects.filter(
            organization=OuterRef("organization"), domain=domain, state=DomainState.VERIFIED
        )
    )


def people_named(name: LoginName, key: TransferKey):
    """The person the login name names, as a queryset of at most one row's worth.

    An organization's key only ever finds its own organization's people.
    """
    match = Q(pk__in=[])
    if name.domain:
        match |= Q(username_key=name.username_key) & Q(_verified(name.domain))
    if name.slug:
        qualified = Q(username_key=name.qualified_key, organization__slug=name.slug)
        if name.qualified_domain:
            qualified &= ~Q(_verified(name.qualified_domain))
        match |= qualified
    # Every reading's key up front, so that one index finds the candidates (the unique
    # one within an organization, transfer migration 0002 across them) before the
    # readings' conditions are checked on them.
    keys = {name.username_key, name.qualified_key} - {""}
    people = User.objects.filter(match, username_key__in=keys, organization__isnull=False)
    if key.organization_id is not None:
        people = people.filter(organization_id=key.organization_id)
    bare_first = Case(When(username_key=name.username_key, then=Value(0)), default=Value(1))
    return people.select_related(
        "organization", "organization__transfer_policy", "posix_id"
    ).order_by(bare_first)


def policy_of(user: User) -> TransferPolicy | None:
    try:
        return user.organization.transfer_policy
    except TransferPolicy.DoesNotExist:
        return None


def _with_ssh_key(people, fingerprint: str):
    live = Q(ssh_keys__fingerprint=fingerprint, ssh_keys__revoked_at__isnull=True)
    return people.annotate(
        credential=FilteredRelation("ssh_keys", condition=live),
        credential_pk=F("credential__pk"),
        credential_label=F("credential__label"),
        credential_expires_at=F("credential__expires_at"),
        credential_last_used_at=F("credential__last_used_at"),
    )


def _with_app_password(people, prefix: str):
    live = Q(app_passwords__prefix=prefix, app_passwords__revoked_at__isnull=True)
    return people.annotate(
        credential=FilteredRelation("app_passwords", condition=live),
        credential_pk=F("credential__pk"),
        credential_label=F("credential__label"),
        credential_expires_at=F("credential__expires_at"),
        credential_last_used_at=F("credential__last_used_at"),
        credential_digest=F("credential__digest"),
        credential_key_id=F("credential__key_id"),
    )


@dataclass(frozen=True)
class Attempt:
    """What a file server asks: this login name, over this protocol, with this secret."""

    login: LoginName
    protocol: str
    ip: str | None
    password: str | None = None
    public_key: ssh_keys.ParsedKey | None = None

    @property
    def kind(self) -> str:
        return CredentialKind.APP_PASSWORD if self.password is not None else CredentialKind.SSH_KEY


def _credential_matches(attempt: Attempt, person: User | None) -> bool:
    """Whether the person's matching credential is the one presented.

    An app password is checked by its digest; for an unknown person one digest is
    computed all the same, so that both cost the same. A key was found by its
    fingerprint, computed for every attempt.
    """
    if attempt.kind == CredentialKind.SSH_KEY:
        return person is not None and attempt.public_key is not None and person.credential_pk
    if person is None or person.credential_pk is None:
        # The digest a match would have cost: nothing to compare it with.
        APP_PASSWORD.digest_of(attempt.password)
        return False
    return APP_PASSWORD.matches(
        attempt.password, digest=person.credential_digest, key_id=person.credential_key_id
    )


def find_person(attempt: Attempt, key: TransferKey) -> User | None:
    """One statement: the person with their organization, setting, POSIX id and the
    credential that matches the attempt's (annotated `credential_*`)."""
    people = people_named(attempt.login, key)
    if attempt.kind == CredentialKind.SSH_KEY:
        fingerprint = attempt.public_key.fingerprint if attempt.public_key else ""
        people = _with_ssh_key(people, fingerprint)
    else:
        people = _with_app_password(people, APP_PASSWORD.prefix_of(attempt.password) or "")
    return next(iter(people[:1]), None)


def refusal_of(attempt: Attempt, person: User | None, now: datetime) -> str:
    """The reason to refuse, checked in this order, or '' to allow (scope aside)."""
    credential_ok = _credential_matches(attempt, person)
    if person is None:
        return Refusal.UNKNOWN_USER
    if not credential_ok:
        return Refusal.BAD_CREDENTIAL
    if person.credential_expires_at is not None and person.credential_expires_at <= now:
        return Refusal.EXPIRED_CREDENTIAL
    if not person.is_active:
        return Refusal.INACTIVE
    policy = policy_of(person)
    if policy is None or policy.mode == TransferMode.OFF:
        return Refusal.TRANSFER_OFF
    return ""


def credential_of(attempt: Attempt, person: User) -> Credential:
    if attempt.kind == CredentialKind.SSH_KEY:
        return Credential(
            kind=CredentialKind.SSH_KEY,
            id=f"key_{person.credential_pk}",
            label=person.credential_label,
            fingerprint=attempt.public_key.fingerprint,
        )
    return Credential(
        kind=CredentialKind.APP_PASSWORD,
        id=f"pw_{person.credential_pk}",
        label=person.credential_label,
    )


def folders_of(grants) -> list[dict]:
    """The union of the groups' grants: one entry per path, write winning."""
    access: dict[str, str] = {}
    for path, granted in grants:
        if path is not None and access.get(path) != Access.WRITE:
            access[path] = granted
    return [{"path": path, "access": access[path]} for path in sorted(access)]


def groups_of(person: User) -> tuple[list[dict], list[tuple], bool]:
    """One statement: the person's groups with their gids, their groups' folder grants,
    and whether any of the groups is in the organization's file-transfer scope."""
    in_scope = Exists(
        TransferPolicy.scope_groups.through.objects.filter(
            transferpolicy_id=person.organization_id, group_id=OuterRef("group_id")
        )
    )
    rows = (
        Membership.objects.filter(user=person)
        .annotate(in_scope=in_scope)
        .values_list(
            "group_id",
            "group__display_name",
            "group__posix_id__number",
            "group__folder_grants__path",
            "group__folder_grants__access",
            "in_scope",
        )
    )
    groups: dict = {}
    grants, scoped = [], False
    for group_id, display_name, gid, path, access, group_in_scope in rows:
        groups.setdefault(group_id, {"id": group_id, "displayName": display_name, "gid": gid})
        grants.append((path, access))
        scoped = scoped or group_in_scope
    return list(groups.values()), grants, scoped


def decide(attempt: Attempt, key: TransferKey, *, now: datetime | None = None) -> Decision:
    """Allowed or refused with its reason, from what the database says now."""
    now = now or timezone.now()
    person = find_person(attempt, key)
    reason = refusal_of(attempt, person, now)
    decision = Decision(allowed=False, reason=reason, user=person, login=attempt.login.login)
    if person is not None:
        # The name as the person's page shows it, whatever case the client typed.
        bare = person.username_key == attempt.login.username_key
        decision.login = login_name(person, verified=bare)
        decision.credential_pk = person.credential_pk
    if reason:
        return decision
    groups, grants, in_scope = groups_of(person)
    if policy_of(person).mode == TransferMode.GROUPS and not in_scope:
        decision.reason = Refusal.NOT_IN_SCOPE
        return decision
    decision.allowed = True
    decision.credential = credential_of(attempt, person)
    decision.groups = groups
    decision.folders = folders_of(grants)
    return decision
