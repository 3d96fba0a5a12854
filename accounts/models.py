import secrets
import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KT
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.email_search import search_text
from accounts.folding import casefold_key


class ModifiedAtField(models.DateTimeField):
    """`auto_now`, except that a new row takes its `created_at` to the microsecond.

    SCIM's meta.lastModified equals meta.created until the resource is modified
    (RFC 7643 §3.1); two `auto_now*` fields would each read the clock.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance, add):
        # Fields are saved in declaration order, so created_at is already set.
        created = getattr(model_instance, "created_at", None)
        value = created if add and created is not None else timezone.now()
        setattr(model_instance, self.attname, value)
        return value


class Organization(models.Model):
    """The tenant: everything else belongs to exactly one organization."""

    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=200)
    # Members and admins must sign in with SSO; owners keep a password sign-in, the
    # break-glass path (sso.services.sso_requirement_set, docs/security.md).
    sso_required = models.BooleanField(default=False)
    # A new random value at every change to the organization's custom attribute
    # declarations (0: none declared yet), so a process may keep them parsed per
    # (organization, version) and a request that loaded the organization needs no query
    # for them (accounts.custom_attributes).
    custom_attributes_version = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.name


class DomainState(models.TextChoices):
    PENDING = "pending", "Pending"
    VERIFIED = "verified", "Verified"


class DomainCheckResult(models.TextChoices):
    FOUND = "found", "Record found"
    NOT_FOUND = "not_found", "Record not found yet"
    TIMEOUT = "timeout", "DNS did not answer in time"
    DNS_ERROR = "dns_error", "DNS error"
    CLAIMED_ELSEWHERE = "claimed_elsewhere", "Verified by another organization"


def new_verification_token() -> str:
    return secrets.token_urlsafe(24)


class OrganizationDomain(models.Model):
    """An email domain an organization claims, proven by a DNS TXT record.

    Only a verified domain counts (home-realm discovery, just-in-time creation, email
    matching at the ACS), and one organization only may hold a domain verified; several
    may have it pending, each with its own token. `domain` is stored folded
    (accounts.domain_verification.domain_key), as users' email keys are.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253)
    # Published in DNS, so not a secret; random so that nobody else's record proves it.
    verification_token = models.CharField(max_length=64, default=new_verification_token)
    state = models.CharField(
        max_length=16, choices=DomainState.choices, default=DomainState.PENDING
    )
    added_by = models.ForeignKey(
        "User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_by_label = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_result = models.CharField(
        max_length=32, choices=DomainCheckResult.choices, blank=True
    )
    last_check_detail = models.CharField(max_length=300, blank=True)
    # When the record was last seen: a verified domain whose record stays away past
    # DOMAIN_RECHECK_GRACE_DAYS goes back to pending (accounts.services.domains).
    last_found_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "domain"], name="domain_unique_per_org"
            ),
            # The one index discovery needs: a verified domain names one organization.
            models.UniqueConstraint(
                fields=["domain"],
                condition=Q(state="verified"),
                name="domain_verified_by_one_org",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "verified"]), name="domain_state_valid"
            ),
        ]

    def __str__(self):
        return self.domain

    @property
    def is_verified(self) -> bool:
        return self.state == DomainState.VERIFIED

    @property
    def last_check_failed_while_verified(self) -> bool:
        """Flagged: still verified, but the record was not found at the last check."""
        failed = self.last_check_result not in ("", DomainCheckResult.FOUND)
        return self.is_verified and failed


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        # Natural keys name platform operators only; organization users share
        # usernames across organizations and sign in through their organization.
        return self.get(organization__isnull=True, username_key=casefold_key(username))


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Source(models.TextChoices):
    SCIM = "scim", "SCIM provisioning"
    SSO_JIT = "sso_jit", "SSO just-in-time"
    MANUAL = "manual", "Manual"


CONSOLE_ROLES = (Role.OWNER, Role.ADMIN)


class User(AbstractBaseUser, PermissionsMixin):
    """A person in one organization; platform operators have no organization.

    `username` is the SCIM userName: case kept as sent, unique per organization
    case-insensitively. The id is the opaque, stable SCIM id.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="users", null=True, blank=True
    )
    username = models.CharField(max_length=255)
    # The sign-in address: copied by the services from the SCIM emails in `profile`
    # (the primary valid address, else the work one, else the first), with its type
    # and primary flag, so that sign-in, the console and filters use indexed columns.
    email = models.CharField(max_length=254, blank=True)
    # Comparison keys (accounts.folding.casefold_key), written by save(): the unique
    # constraint and every case-insensitive lookup use these, never lower().
    username_key = models.CharField(max_length=1024, editable=False, default="")
    email_key = models.CharField(max_length=1024, editable=False, default="", blank=True)
    # Every value of profile["emails"], folded, for substring filters (accounts.email_search);
    # written by save().
    email_search = models.TextField(editable=False, default="", blank=True)
    email_type = models.CharField(max_length=32, blank=True, default="work")
    email_primary = models.BooleanField(default=True)
    given_name = models.CharField(max_length=150, blank=True)
    family_name = models.CharField(max_length=150, blank=True)
    # SCIM name.formatted as sent; blank means "derive it from the parts".
    name_formatted = models.CharField(max_length=255, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=255, blank=True)
    locale = models.CharField(max_length=64, blank=True)
    # Enterprise extension: department, employeeNumber, costCenter, division,
    # organization, manager ({"value": id, "displayName": ...}).
    enterprise = models.JSONField(default=dict, blank=True)
    # The SCIM User attributes without a column of their own (all the emails, phone
    # numbers, addresses, ...), keyed by their SCIM names as the attribute table in
    # provisioning.attributes spells them.
    profile = models.JSONField(default=dict, blank=True)
    # Values of the organization's declared custom attributes (CustomAttribute), keyed
    # by their declared names, each in its type's canonical form
    # (accounts.custom_attributes); written by the user services only.
    custom_attributes = models.JSONField(default=dict, db_default={}, blank=True)
    # "<name>" and "<name>=<folded value>" for every value of an indexed custom
    # attribute: what SCIM `pr` and `eq` filters look for, GIN-indexed (migration 0021).
    custom_search = models.JSONField(default=list, db_default=[], blank=True, editable=False)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    # The admin role came from a group mapping (accounts.services.role_mapping), so it
    # goes when the person leaves every mapped group; a role set by hand never does.
    role_from_mapping = models.BooleanField(default=False)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    # An owner linked this console-made user to the identity provider: from then on SCIM
    # may change it and an SSO sign-in may land on it (docs/security.md).
    idp_linked = models.BooleanField(default=False)
    # The last sign-in through the organization's identity provider: an owner may
    # require SSO only after one that postdates the IdP's last configuration change.
    last_sso_sign_in_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Platform operator: may use the operations admin."
    )
    # Bumped by every change; the SCIM ETag (meta.version) is built from it.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = ModifiedAtField()

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "username_key"], name="user_username_key_unique_per_org"
            ),
            models.UniqueConstraint(
                fields=["username_key"],
                condition=Q(organization__isnull=True),
                name="operator_username_key_unique",
            ),
            models.CheckConstraint(
                condition=Q(organization__isnull=False) | Q(is_staff=True),
                name="user_has_organization_or_is_operator",
            ),
            models.CheckConstraint(
                condition=Q(role__in=[choice.value for choice in Role]),
                name="user_role_valid",
            ),
            # A mapping grants the admin role and nothing else, never owner.
            models.CheckConstraint(
                condition=Q(role_from_mapping=False) | Q(role="admin"),
                name="user_mapped_role_is_admin",
            ),
        ]
        indexes = [
            models.Index(fields=["email_key", "organization"], name="user_email_key_org_idx"),
            models.Index(fields=["organization", "external_id"], name="user_org_external_id_idx"),
            models.Index(fields=["organization", "created_at", "id"], name="user_org_created_idx"),
            # One per filterable SCIM attribute (provisioning.attributes): a filter
            # inside one organization never scans its users.
            models.Index(fields=["organization", "updated_at"], name="user_org_updated_idx"),
            models.Index(fields=["organization", "is_active"], name="user_org_active_idx"),
            models.Index(Lower("display_name"), "organization", name="user_display_ci_org_idx"),
            models.Index(Lower("given_name"), "organization", name="user_given_ci_org_idx"),
            models.Index(Lower("family_name"), "organization", name="user_family_ci_org_idx"),
            models.Index(Lower("email_type"), "organization", name="user_email_type_org_idx"),
            models.Index(
                Lower(KT("enterprise__department")), "organization", name="user_department_org_idx"
            ),
            models.Index(
                KT("enterprise__employeeNumber"), "organization", name="user_employee_no_org_idx"
            ),
            models.Index(
                KT("enterprise__manager__value"), "organization", name="user_manager_org_idx"
            ),
        ]

    def __str__(self):
        return self.username

    def save(self, *args, **kwargs):
        self.username_key = casefold_key(self.username)
        self.email_key = casefold_key(self.email)
        profile = self.profile if isinstance(self.profile, dict) else {}
        self.email_search = search_text(profile.get("emails"))
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            derived = set()
            if {"username", "email"} & set(update_fields):
                derived |= {"username_key", "email_key"}
            if "profile" in update_fields:
                derived.add("email_search")
            kwargs["update_fields"] = {*update_fields, *derived}
        super().save(*args, **kwargs)

    def get_full_name(self):
        return self.display_name or " ".join(p for p in (self.given_name, self.family_name) if p)

    def get_short_name(self):
        return self.given_name or self.username

    @property
    def is_idp_managed(self) -> bool:
        """Whether the identity provider owns this user: SCIM and SSO may act on it."""
        return self.source != Source.MANUAL or self.idp_linked

    @property
    def can_use_console(self) -> bool:
        return self.is_active and self.organization_id is not None and self.role in CONSOLE_ROLES


class Group(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="groups")
    display_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, blank=True)
    members = models.ManyToManyField(User, through="Membership", related_name="member_of")
    # Members of this group hold the console admin role (accounts.services.role_mapping).
    grants_admin = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = ModifiedAtField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("display_name"),
                "organization",
                name="group_display_name_ci_unique_per_org",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "created_at", "id"], name="group_org_created_idx"),
            models.Index(fields=["organization", "external_id"], name="group_org_external_id_idx"),
            models.Index(fields=["organization", "updated_at"], name="group_org_updated_idx"),
        ]

    def __str__(self):
        return self.display_name


class Membership(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="membership_unique"),
        ]
        indexes = [models.Index(fields=["user", "group"], name="membership_user_group_idx")]

    def __str__(self):
        return f"{self.user_id} in {self.group_id}"


class CustomAttributeType(models.TextChoices):
    # RFC 7643 §2.3 data types an owner may declare.
    STRING = "string", "String"
    BOOLEAN = "boolean", "Boolean"
    INTEGER = "integer", "Integer"
    DATETIME = "dateTime", "Date and time"
    REFERENCE = "reference", "Reference (URL)"


class CustomAttribute(models.Model):
    """A user attribute an owner declared for the organization's identity provider.

    Its values live in User.custom_attributes under `name`. The name and the type are
    fixed once declared (the values are stored for them, and identity providers map
    to the name); deleting the declaration purges the values
    (accounts.services.custom_attributes).
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="custom_attributes"
    )
    name = models.CharField(max_length=64)
    type = models.CharField(max_length=16, choices=CustomAttributeType.choices)
    multi_valued = models.BooleanField(default=False)
    description = models.CharField(max_length=500, blank=True)
    indexed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"), "organization", name="custom_attribute_name_ci_unique_per_org"
            ),
            models.CheckConstraint(
                condition=Q(type__in=[choice.value for choice in CustomAttributeType]),
                name="custom_attribute_type_valid",
            ),
        ]

    def __str__(self):
        return self.name


class ActorType(models.TextChoices):
    USER = "user", "User"
    TOKEN = "token", "Provisioning token"
    SYSTEM = "system", "System"


class AuditAction(models.TextChoices):
    # One label per action, shown in the Activity table and its filter alike.
    ORGANIZATION_CREATED = "organization.created", "Organization created"
    USER_CREATED = "user.created", "User created"
    USER_UPDATED = "user.updated", "User updated"
    USER_DEACTIVATED = "user.deactivated", "User deactivated"
    USER_REACTIVATED = "user.reactivated", "User reactivated"
    USER_DELETED = "user.deleted", "User deleted"
    USER_ROLE_CHANGED = "user.role_changed", "User role changed"
    USER_IDP_LINKED = "user.idp_linked", "User linked to the identity provider"
    USER_PASSWORD_SET = "user.password_set", "User password set"
    GROUP_CREATED = "group.created", "Group created"
    GROUP_UPDATED = "group.updated", "Group updated"
    GROUP_DELETED = "group.deleted", "Group deleted"
    GROUP_MEMBERS_ADDED = "group.members_added", "Group members added"
    GROUP_MEMBERS_REMOVED = "group.members_removed", "Group members removed"
    TOKEN_CREATED = "token.created", "Token created"
    TOKEN_REVOKED = "token.revoked", "Token revoked"
    SSO_CONFIGURED = "sso.configured", "Single sign-on configured"
    SSO_LOGIN = "sso.login", "Single sign-on sign-in"
    SSO_LOGIN_FAILED = "sso.login_failed", "Single sign-on sign-in failed"
    SSO_CONNECTION_SWITCHED = "sso.connection_switched", "Sign-in connection switched"
    SSO_SESSIONS_ENDED = "sso.sessions_ended", "Sessions ended by the identity provider"
    CONSOLE_LOGIN = "console.login", "Console sign-in"
    CONSOLE_LOGIN_FAILED = "console.login_failed", "Console sign-in failed"
    CONSOLE_BREAK_GLASS_LOGIN = "console.break_glass_login", "Console break-glass sign-in"
    SSO_REQUIREMENT_CHANGED = "sso.requirement_changed", "Single sign-on requirement changed"
    API_KEY_CREATED = "api_key.created", "API key created"
    API_KEY_REVOKED = "api_key.revoked", "API key revoked"
    WEBHOOK_CREATED = "webhook.created", "Webhook endpoint added"
    WEBHOOK_UPDATED = "webhook.updated", "Webhook endpoint updated"
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated", "Webhook secret rotated"
    WEBHOOK_DISABLED = "webhook.disabled", "Webhook endpoint disabled"
    WEBHOOK_TEST_SENT = "webhook.test_sent", "Webhook test event sent"
    WEBHOOK_RESENT = "webhook.resent", "Webhook event resent"
    DOMAIN_ADDED = "domain.added", "Domain added"
    DOMAIN_CHECKED = "domain.checked", "Domain checked"
    DOMAIN_VERIFIED = "domain.verified", "Domain verified"
    DOMAIN_UNVERIFIED = "domain.unverified", "Domain verification lost"
    DOMAIN_REMOVED = "domain.removed", "Domain removed"
    CREDENTIAL_CREATED = "credential.created", "File-transfer credential added"
    CREDENTIAL_REVOKED = "credential.revoked", "File-transfer credential revoked"
    TRANSFER_KEY_CREATED = "transfer_key.created", "Transfer key created"
    TRANSFER_KEY_REVOKED = "transfer_key.revoked", "Transfer key revoked"
    TRANSFER_SETTINGS_CHANGED = "transfer.settings_changed", "File-transfer setting changed"
    TRANSFER_FOLDER_GRANTED = "transfer.folder_granted", "Folder granted"
    TRANSFER_FOLDER_REMOVED = "transfer.folder_removed", "Folder grant removed"
    TRANSFER_LOGIN_REFUSED = "transfer.login_refused", "File-transfer login refused"
    CUSTOM_ATTRIBUTE_DECLARED = "custom_attribute.declared", "Custom attribute declared"
    CUSTOM_ATTRIBUTE_CHANGED = "custom_attribute.changed", "Custom attribute changed"
    CUSTOM_ATTRIBUTE_DELETED = "custom_attribute.deleted", "Custom attribute deleted"


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionDenied("Audit events are append-only.")

    def delete(self):
        raise PermissionDenied("Audit events are append-only.")


class AuditEvent(models.Model):
    """Append-only record of one change. `changes` never holds secrets."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="audit_events"
    )
    occurred_at = models.DateTimeField(auto_now_add=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    # A user's or token's id; kept as text so the trail outlives what it names.
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=64, choices=AuditAction.choices)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-occurred_at", "-id"], name="audit_org_time_idx"),
            models.Index(
                fields=["organization", "action", "-occurred_at"], name="audit_org_action_idx"
            ),
            models.Index(
                fields=["organization", "target_type", "target_id"], name="audit_org_target_idx"
            ),
            models.Index(
                fields=["organization", "actor_type", "actor_id"], name="audit_org_actor_idx"
            ),
            # The SCIM request log links each request to the events it caused.
            models.Index(fields=["organization", "request_id"], name="audit_org_request_idx"),
        ]

    def __str__(self):
        return f"{self.action} {self.target_label or self.target_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionDenied("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("Audit events are append-only.")


class UserSession(models.Model):
    """Which sessions belong to which user, so deactivation can end them all at once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"session of {self.user_id}"


class RateLimitCounter(models.Model):
    """One fixed-window counter of config.ratelimit, when Redis is not configured.

    One row per limited key (scope and hashed key), rewritten in place by a single
    upsert per event; rows whose window has ended are pruned now and then.
    """

    bucket = models.CharField(max_length=100, primary_key=True)
    window_start = models.BigIntegerField()  # Unix seconds
    hits = models.PositiveIntegerField()
    expires_at = models.BigIntegerField(db_index=True)  # Unix seconds

    class Meta:
        # Named in config.ratelimit's upsert, which Django's ORM cannot express.
        db_table = "accounts_ratelimitcounter"

    def __str__(self):
        return f"{self.bucket}: {self.hits} since {self.window_start}"
