"""What the decision API answers: an allowed login as JSON, and a person's keys as
OpenSSH's AuthorizedKeysCommand prints them."""

import datetime
import functools

from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone
from django.utils.text import slugify

from accounts import raw_rows as rows
from accounts.domain_verification import email_domain_key
from accounts.models import DomainState, Membership, OrganizationDomain, User
from transfer import decisions
from transfer.models import SshKey, TransferKey, TransferMode, TransferPolicy
from transfer.services import posix_id_for_group, posix_id_for_user

# POSIX group names: at most 32 characters on Linux (useradd's limit).
GROUP_NAME_CHARS = 32


def group_name(display_name: str, gid: int) -> str:
    """A group's system name: unique by its gid, readable by its displayName."""
    readable = slugify(display_name)[: GROUP_NAME_CHARS - len(str(gid)) - 2] or "group"
    return f"g{gid}-{readable}"


def _uid(user: User) -> int:
    try:
        return user.posix_id.number
    except User.posix_id.RelatedObjectDoesNotExist:
        return posix_id_for_user(user.pk)


def _groups(groups: list[dict]) -> list[dict]:
    answered = []
    for group in groups:
        gid = group["gid"]
        if gid is None:
            gid = posix_id_for_group(group["id"])
        answered.append(
            {
                "id": str(group["id"]),
                "displayName": group["displayName"],
                "name": group_name(group["displayName"], gid),
                "gid": gid,
            }
        )
    return sorted(answered, key=lambda group: group["displayName"].lower())


def home_of(login: str, uid: int) -> str:
    """The person's home, relative to a file server's root of homes: one path segment,
    whatever the login name holds. The login name when it works as a system account name
    (no "/", never "." or ".."), else the uid, so that no name can reach outside the root."""
    return f"/{login}" if decisions.works_with_system_accounts(login) else f"/{uid}"


def account_answer(*, user: User, login: str, groups: list[dict], folders: list[dict]) -> dict:
    """A login that is allowed now: who, their ids, home, groups and folders."""
    uid = _uid(user)
    return {
        "login": login,
        "user": {
            "id": str(user.pk),
            "userName": user.username,
            "displayName": user.display_name or user.get_full_name() or user.username,
            "email": user.email,
            "organization": user.organization.slug,
        },
        "uid": uid,
        "gid": uid,
        "home": home_of(login, uid),
        "groups": _groups(groups),
        "folders": folders,
    }


def allowed_answer(decision: decisions.Decision) -> dict:
    credential = decision.credential
    answer = account_answer(
        user=decision.user, login=decision.login, groups=decision.groups, folders=decision.folders
    )
    answer["credential"] = {"id": credential.id, "kind": credential.kind, "label": credential.label}
    if credential.fingerprint:
        answer["credential"]["fingerprint"] = credential.fingerprint
    return answer


def _in_scope():
    scope = TransferPolicy.scope_groups.through.objects.filter(
        transferpolicy_id=OuterRef(OuterRef("organization_id"))
    ).values("group_id")
    return Exists(Membership.objects.filter(user=OuterRef("pk"), group_id__in=scope))


def may_log_in(user: User) -> bool:
    """Active, in an organization with file transfer on, and in its scope (annotated)."""
    policy = decisions.policy_of(user)
    if not user.is_active or policy is None or policy.mode == TransferMode.OFF:
        return False
    return policy.mode == TransferMode.EVERYONE or user.in_scope


def _key_line(key_id: int, public_key: str, expires_at: datetime.datetime | None) -> str:
    options = "restrict"
    if expires_at is not None:
        # sshd's expiry-time; the trailing Z makes it UTC, not the server's time zone.
        options += f',expiry-time="{expires_at.astimezone(datetime.UTC):%Y%m%d%H%M}Z"'
    return f"{options} {public_key} roster:key_{key_id}"


@functools.cache
def _authorized_keys_sql() -> str:
    """The presented transfer key, the person the login name names with whether they
    are in the file-transfer scope, and their live, unexpired keys, oldest first: one
    row per key (`decisions.presented_sql`; every AuthorizedKeysCommand runs it)."""
    column = functools.partial(rows.column, SshKey)
    expires_at = column("expires_at", "k")
    return decisions.presented_sql(
        decisions.presented_person_sql(None, in_scope=True),
        select=f"{column('id', 'k')}, {column('public_key', 'k')}, {expires_at}",
        joins=(
            f"LEFT JOIN {rows.table(SshKey)} k ON {column('user', 'k')} = person.person_id "
            f"AND {column('revoked_at', 'k')} IS NULL "
            f"AND ({expires_at} IS NULL OR {expires_at} > %(now)s)"
        ),
        order=f"ORDER BY {column('created_at', 'k')}, {column('id', 'k')}",
    )


def authorized_keys_query(login: decisions.LoginName, key_prefix: str) -> tuple[str, dict]:
    """The statement and parameters `authorized_keys_presented` runs."""
    params = decisions.person_params(login, key_prefix=key_prefix)
    params["now"] = SshKey._meta.get_field("expires_at").get_db_prep_value(
        timezone.now(), rows.connection
    )
    return _authorized_keys_sql(), params


def authorized_keys_presented(
    login: decisions.LoginName, key_prefix: str
) -> tuple[TransferKey | None, list[str]]:
    """The transfer key with the prefix (None for none; its digest is the caller's to
    compare) and, when the person may log in now, the lines of their usable keys; one
    statement, the request's only one."""
    found = rows.fetch_first(*authorized_keys_query(login, key_prefix))
    if not found:
        return None, []
    key, rest = decisions.presented_key(found[0])
    person = decisions.person_from_row(rest, None, in_scope=True)
    if person is None or not may_log_in(person):
        return key, []
    # After the key's and the person's columns, and the person's two named keys.
    start = decisions.presented_width() + decisions.person_width(None, in_scope=True) + 2
    lines = []
    for row in found:
        key_id, public_key, expires_at = row[start:]
        if key_id is not None:  # a person with no usable key: one row, no key
            expires_at = rows.value(SshKey, "expires_at", expires_at)
            lines.append(_key_line(key_id, public_key, expires_at))
    return key, lines


def allowed_accounts(key: TransferKey):
    """The people who may log in now (the key's organization's, or everyone's), with
    what their answers need loaded in a fixed number of statements."""
    on = [TransferMode.EVERYONE, TransferMode.GROUPS]
    people = (
        User.objects.filter(
            is_active=True,
            organization__isnull=False,
            organization__transfer_policy__mode__in=on,
        )
        .annotate(in_scope=_in_scope())
        .filter(Q(organization__transfer_policy__mode=TransferMode.EVERYONE) | Q(in_scope=True))
        .select_related("organization", "posix_id")
        .prefetch_related(
            Prefetch(
                "organization__domains",
                queryset=OrganizationDomain.objects.filter(state=DomainState.VERIFIED),
                to_attr="verified_domains",
            ),
            Prefetch(
                "memberships",
                queryset=Membership.objects.select_related("group__posix_id").prefetch_related(
                    "group__folder_grants"
                ),
            ),
        )
    )
    if key.organization_id is not None:
        people = people.filter(organization_id=key.organization_id)
    return people


def listed_account(user: User) -> dict:
    """An allowed login as /transfer/v1/accounts lists it (from allowed_accounts)."""
    verified = {domain.domain for domain in user.organization.verified_domains}
    login = decisions.login_name(user, verified=email_domain_key(user.username) in verified)
    groups, grants = [], []
    for membership in user.memberships.all():
        group = membership.group
        gid = getattr(getattr(group, "posix_id", None), "number", None)
        groups.append({"id": group.pk, "displayName": group.display_name, "gid": gid})
        grants.extend((grant.path, grant.access) for grant in group.folder_grants.all())
    return account_answer(
        user=user, login=login, groups=groups, folders=decisions.folders_of(grants)
    )
