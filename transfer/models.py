"""File-transfer access: who may log in to the file servers, with what, and to which
folders; every decision is logged (docs/transfer.md)."""

import uuid

from django.db import models
from django.db.models import Q

from accounts.keyed_secrets import KeyedSecret, SecretKind
from accounts.models import Group, Organization, User

TRANSFER_KEY = SecretKind(head="rtk_", purpose="roster.transfer-key-digest.v1")
APP_PASSWORD = SecretKind(head="rap_", purpose="roster.app-password-digest.v1")


class TransferMode(models.TextChoices):
    OFF = "off", "Off"
    EVERYONE = "everyone", "On for every active user"
    GROUPS = "groups", "On for members of chosen groups"


# Names the file-transfer settings among directory events' resources (uuid5 of the
# organization's id): fixed for good, since consumers keep the ids.
SETTINGS_RESOURCE_NAMESPACE = uuid.UUID("5d2c7a1e-3f6b-4c8e-9a0d-7b1e2f4c6a80")


class TransferPolicy(models.Model):
    """An organization's file-transfer setting; no row means off."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="transfer_policy"
    )
    mode = models.CharField(max_length=16, choices=TransferMode.choices, default=TransferMode.OFF)
    scope_groups = models.ManyToManyField(Group, blank=True, related_name="+")
    # The longest an app password may live, in days; None: no maximum.
    max_app_password_days = models.PositiveIntegerField(null=True, blank=True)
    # Grows with every change of the mode or the scope: the version of its events.
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=["off", "everyone", "groups"]), name="transfer_mode_valid"
            )
        ]

    def __str__(self):
        return f"{self.organization_id}: {self.mode}"

    @property
    def resource_id(self) -> uuid.UUID:
        """The setting's id as a directory event's resource: stable, one per organization."""
        return uuid.uuid5(SETTINGS_RESOURCE_NAMESPACE, str(self.organization_id))


class Access(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


class FolderGrant(models.Model):
    """A group's access to a folder path (`/Finance`); a person's folders are the union
    of their groups' grants, write winning."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="folder_grants"
    )
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="folder_grants")
    path = models.CharField(max_length=255)
    access = models.CharField(max_length=8, choices=Access.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["group", "path"], name="folder_grant_unique"),
            models.CheckConstraint(
                condition=Q(access__in=["read", "write"]), name="folder_grant_access_valid"
            ),
        ]

    def __str__(self):
        return f"{self.path} ({self.access})"


class PosixId(models.Model):
    """A number from the platform-wide sequence (TRANSFER_UID_BASE + id), for one user
    (uid, and the gid of their own group) or one group (gid).

    Allocated once and never reused: deleting the user or group keeps the row, so its
    number stays spent, and a rename changes nothing here.
    """

    number = models.BigIntegerField(unique=True, null=True)
    user = models.OneToOneField(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="posix_id"
    )
    group = models.OneToOneField(
        Group, on_delete=models.SET_NULL, null=True, blank=True, related_name="posix_id"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=True) | Q(group__isnull=True),
                name="posix_id_one_owner",
            )
        ]

    def __str__(self):
        return str(self.number)


class CredentialSource(models.TextChoices):
    PERSONAL = "personal", "Added by the person"
    ADMIN = "admin", "Added by an admin"
    IDP = "idp", "From the identity provider"


class CredentialKind(models.TextChoices):
    SSH_KEY = "ssh_key", "SSH key"
    APP_PASSWORD = "app_password", "App password"


class SshKey(models.Model):
    """A person's SSH public key, stored as `type base64` with its SHA256 fingerprint.

    One person per key in an organization: the fingerprint is unique among the
    organization's keys that are not revoked. Removing a key revokes it, so the sign-in
    log keeps naming it.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="ssh_keys")
    key_type = models.CharField(max_length=64)
    public_key = models.TextField()
    fingerprint = models.CharField(max_length=64)
    label = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=16, choices=CredentialSource.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "fingerprint"],
                condition=Q(revoked_at__isnull=True),
                name="ssh_key_unique_per_org",
            )
        ]
        indexes = [models.Index(fields=["user", "revoked_at"], name="ssh_key_user_idx")]

    def __str__(self):
        return f"{self.fingerprint} ({self.label})" if self.label else self.fingerprint


class AppPassword(KeyedSecret):
    """A generated password for clients that only do passwords (FTPS, WebDAV, WinSCP)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="app_passwords")
    source = models.CharField(max_length=16, choices=CredentialSource.choices)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="app_password_user_idx")]


class TransferKey(KeyedSecret):
    """A file server's credential for the decision API: one organization's logins, or,
    without an organization, every organization's (the platform's own servers)."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="transfer_keys",
    )
    created_by_label = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def reads_every_organization(self) -> bool:
        """A platform key: it decides and reads for every organization."""
        return self.organization_id is None


class Protocol(models.TextChoices):
    SFTP = "sftp", "SFTP"
    SCP = "scp", "SCP"
    FTPS = "ftps", "FTPS"
    WEBDAV = "webdav", "WebDAV"


class Refusal(models.TextChoices):
    UNKNOWN_USER = "unknown_user", "Unknown user"
    INACTIVE = "inactive", "Deactivated"
    TRANSFER_OFF = "transfer_off", "File transfer is off"
    NOT_IN_SCOPE = "not_in_scope", "Not in a file-transfer group"
    BAD_CREDENTIAL = "bad_credential", "Wrong or revoked credential"
    EXPIRED_CREDENTIAL = "expired_credential", "Expired credential"


class TransferSignIn(models.Model):
    """One login decision, allowed or refused; purged after TRANSFER_LOG_RETENTION_DAYS.

    Every decision adds a row, so the table carries no more than it must: its
    organization and person are kept by Django (their deletion deletes the organization's
    rows and blanks the person's) rather than by database constraints, whose checks would
    lock the organization's row for every decision, and the indexes below lead with
    them, so neither needs one of its own. A person deleted while one of their decisions
    is being logged can leave that row naming nobody; it reads as an unknown person.
    """

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    user = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="transfer_sign_ins",
        db_constraint=False,
        db_index=False,
    )
    login = models.CharField(max_length=255)
    protocol = models.CharField(max_length=8, choices=Protocol.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    allowed = models.BooleanField()
    reason = models.CharField(max_length=32, choices=Refusal.choices, blank=True)
    credential_kind = models.CharField(max_length=16, choices=CredentialKind.choices, blank=True)
    credential_id = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-at"], name="transfer_signin_org_idx"),
            models.Index(fields=["user", "-at"], name="transfer_signin_user_idx"),
            models.Index(fields=["at"], name="transfer_signin_at_idx"),
        ]

    def __str__(self):
        return f"{self.login} {self.protocol} {'allowed' if self.allowed else self.reason}"
