"""The console's reads: each says what it loads and stays bounded at 100,000 users."""

from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent, Group, Membership, Organization, User
from provisioning.models import ProvisioningToken
from provisioning.selectors import tokens_of
from transfer.models import AppPassword, FolderGrant, SshKey, TransferKey, TransferSignIn

# The overview chart's kinds of change and the audit actions each one counts.
CHART_KINDS = {
    "created": (AuditAction.USER_CREATED,),
    "updated": (AuditAction.USER_UPDATED,),
    "deactivated": (AuditAction.USER_DEACTIVATED, AuditAction.USER_DELETED),
    "groups": (
        AuditAction.GROUP_CREATED,
        AuditAction.GROUP_UPDATED,
        AuditAction.GROUP_DELETED,
        AuditAction.GROUP_MEMBERS_ADDED,
        AuditAction.GROUP_MEMBERS_REMOVED,
    ),
}
_KIND_OF_ACTION = {action: kind for kind, actions in CHART_KINDS.items() for action in actions}


def organization_counts(organization: Organization) -> dict:
    """Active and deactivated users and groups, in two queries."""
    users = User.objects.filter(organization=organization).aggregate(
        active=Count("pk", filter=Q(is_active=True)),
        deactivated=Count("pk", filter=Q(is_active=False)),
    )
    return {**users, "groups": Group.objects.filter(organization=organization).count()}


def daily_changes(organization: Organization, *, days: int = 30, today: date | None = None):
    """Per day for the last `days` days (oldest first), how many changes of each kind.

    One aggregate query over the (organization, action, occurred_at) index; days with no
    events are filled with zeros here rather than in SQL.
    """
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first, time.min))
    rows = (
        AuditEvent.objects.filter(
            organization=organization, occurred_at__gte=since, action__in=list(_KIND_OF_ACTION)
        )
        .annotate(day=TruncDate("occurred_at"))
        .values("day", "action")
        .annotate(n=Count("id"))
        .order_by()
    )
    series = {first + timedelta(days=i): dict.fromkeys(CHART_KINDS, 0) for i in range(days)}
    for row in rows:
        if row["day"] in series:
            series[row["day"]][_KIND_OF_ACTION[row["action"]]] += row["n"]
    return [(day, counts) for day, counts in series.items()]


def live_token_count(organization: Organization) -> int:
    """Tokens that authenticate right now: not revoked and not expired."""
    now = timezone.now()
    return (
        tokens_of(organization)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), revoked_at__isnull=True)
        .count()
    )


def tokens_for_filter(organization: Organization):
    """Every token of the organization, for the activity log's actor filter."""
    return ProvisioningToken.objects.filter(organization=organization).order_by("-created_at")


def user_search(
    organization: Organization, *, query: str = "", status: str = "", group: Group | None = None
) -> QuerySet[User]:
    """Users matching a search over username, email and names, and the list's filters."""
    users = User.objects.filter(organization=organization)
    query = query.strip()
    if query:
        users = users.filter(
            Q(username__icontains=query)
            | Q(email__icontains=query)
            | Q(display_name__icontains=query)
            | Q(given_name__icontains=query)
            | Q(family_name__icontains=query)
        )
    if status == "active":
        users = users.filter(is_active=True)
    elif status == "deactivated":
        users = users.filter(is_active=False)
    if group is not None:
        # EXISTS rather than a join: no duplicates and no DISTINCT over the page.
        users = users.filter(Exists(Membership.objects.filter(group=group, user_id=OuterRef("pk"))))
    return users


def user_detail(organization: Organization, user_id) -> User | None:
    memberships = Membership.objects.select_related("group").order_by("group__display_name")
    return (
        User.objects.filter(organization=organization, pk=user_id)
        .select_related("organization")
        .prefetch_related(Prefetch("memberships", queryset=memberships))
        .first()
    )


def audit_for_target(organization: Organization, target_type: str, target_id, limit: int = 20):
    return list(
        AuditEvent.objects.filter(
            organization=organization, target_type=target_type, target_id=str(target_id)
        ).order_by("-occurred_at", "-id")[:limit]
    )


def groups_with_counts(organization: Organization, *, query: str = "") -> QuerySet[Group]:
    groups = Group.objects.filter(organization=organization)
    if query.strip():
        groups = groups.filter(display_name__icontains=query.strip())
    return groups.annotate(member_count=Count("memberships"))


def group_member_list(group: Group) -> QuerySet[User]:
    return User.objects.filter(memberships__group=group)


def console_admins(organization: Organization) -> QuerySet[User]:
    """Users who can act in the console: the activity log's actor filter lists them."""
    return User.objects.filter(organization=organization, role__in=["owner", "admin"]).order_by(
        "username"
    )


def activity(
    organization: Organization,
    *,
    action: str = "",
    actor_type: str = "",
    actor_id: str = "",
    target: str = "",
    since: date | None = None,
    until: date | None = None,
    request_id: str = "",
) -> QuerySet[AuditEvent]:
    """The organization's audit log with the activity page's filters applied."""
    events = AuditEvent.objects.filter(organization=organization)
    if request_id:
        events = events.filter(request_id=request_id)
    if action:
        events = events.filter(action=action)
    if actor_type:
        events = events.filter(actor_type=actor_type)
    if actor_id:
        events = events.filter(actor_id=actor_id)
    target = target.strip()
    if target:
        target_type, _, target_id = target.partition(":")
        if target_id and target_type.isidentifier():
            events = events.filter(target_type=target_type, target_id=target_id)
        else:
            events = events.filter(Q(target_label__icontains=target) | Q(target_id=target))
    if since:
        events = events.filter(
            occurred_at__gte=timezone.make_aware(datetime.combine(since, time.min))
        )
    if until:
        events = events.filter(
            occurred_at__lt=timezone.make_aware(
                datetime.combine(until + timedelta(days=1), time.min)
            )
        )
    return events


# -- File transfer: one object of the organization's, revoked or not ----------------------


def transfer_key_of(organization: Organization, key_id) -> TransferKey | None:
    return TransferKey.objects.filter(organization=organization, pk=key_id).first()


def folder_grant_of(organization: Organization, grant_id) -> FolderGrant | None:
    grants = FolderGrant.objects.filter(organization=organization, pk=grant_id)
    return grants.select_related("group").first()


def ssh_key_of(user: User, key_id) -> SshKey | None:
    return SshKey.objects.filter(user=user, pk=key_id).first()


def app_password_of(user: User, password_id) -> AppPassword | None:
    return AppPassword.objects.filter(user=user, pk=password_id).first()


def sign_ins_of_people_named(sign_ins: QuerySet[TransferSignIn], text: str):
    """The rows whose userName or attempted login name contains `text` (any case)."""
    text = text.strip()
    if not text:
        return sign_ins
    return sign_ins.filter(Q(user__username__icontains=text) | Q(login__icontains=text))


# credential_id as the sign-in log writes it (transfer.decisions.credential_of).
_CREDENTIAL_MODELS = {"key": SshKey, "pw": AppPassword}


def credential_labels(organization: Organization, sign_ins) -> dict[str, str]:
    """The label of each credential the rows name (`key_12`, `pw_3`), revoked ones too;
    at most one query per kind of credential."""
    wanted: dict[str, set[int]] = {}
    for row in sign_ins:
        head, _, pk = row.credential_id.partition("_")
        if head in _CREDENTIAL_MODELS and pk.isdigit():
            wanted.setdefault(head, set()).add(int(pk))
    labels = {}
    for head, pks in wanted.items():
        rows = _CREDENTIAL_MODELS[head].objects.filter(organization=organization, pk__in=pks)
        labels.update({f"{head}_{pk}": label for pk, label in rows.values_list("pk", "label")})
    return labels
