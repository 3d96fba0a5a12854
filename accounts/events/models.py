"""Directory events, API keys and webhooks; registered with the accounts app."""

from django.conf import settings
from django.db import models
from django.db.models import Func, Q
from django.utils import timezone

from accounts.keyed_secrets import KeyedSecret, SecretKind
from accounts.models import Organization

API_KEY = SecretKind(head="rk_", purpose="roster.api-key-digest.v1")


class CurrentTransactionId(Func):
    """The inserting transaction's id, `pg_current_xact_id()` (64-bit, never wraps).

    NULL on SQLite, where the Events API orders by row id (see docs/events.md).
    """

    template = "NULL"
    output_field = models.BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return "(pg_current_xact_id()::text::bigint)", []


class EventType(models.TextChoices):
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    USER_DELETED = "user.deleted"
    GROUP_CREATED = "group.created"
    GROUP_UPDATED = "group.updated"
    GROUP_DELETED = "group.deleted"
    GROUP_MEMBER_ADDED = "group.member_added"
    GROUP_MEMBER_REMOVED = "group.member_removed"
    # A person's file-transfer credential (an SSH key or an app password): data carries
    # the user and the credential without its secret (transfer.services).
    CREDENTIAL_CREATED = "credential.created"
    CREDENTIAL_REVOKED = "credential.revoked"
    # Who may use file transfer, and which folders a group opens (transfer.services):
    # an organization's setting, and one group's folder grants.
    TRANSFER_SETTINGS_CHANGED = "transfer.settings_changed"
    TRANSFER_FOLDERS_CHANGED = "transfer.folders_changed"


class DirectoryEvent(models.Model):
    """One change of a user, a group or a membership, written with the change itself.

    `data` is what consumers receive: snapshots of the resources as the API shows them
    and, for updates, the changed field names. `resource_id` is the resource whose
    version this is: the user, or the group for group and membership events.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="directory_events"
    )
    type = models.CharField(max_length=32, choices=EventType.choices)
    resource_id = models.UUIDField()
    resource_version = models.PositiveIntegerField()
    user_id = models.UUIDField(null=True, blank=True)
    group_id = models.UUIDField(null=True, blank=True)
    data = models.JSONField()
    actor_type = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=255, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    transaction_id = models.BigIntegerField(null=True, db_default=CurrentTransactionId())

    class Meta:
        ordering = ["transaction_id", "id"]
        indexes = [
            models.Index(
                fields=["organization", "transaction_id", "id"], name="event_org_position_idx"
            ),
            models.Index(fields=["occurred_at"], name="event_occurred_idx"),
        ]

    def __str__(self):
        return f"{self.type} {self.resource_id} v{self.resource_version}"


class ApiKey(KeyedSecret):
    """A credential of one of the platform's services for one organization's API.

    A keyed secret of its own kind (API_KEY): the `rk_` head and a digest key of their
    own keep API keys and provisioning tokens apart, so neither is ever found among the
    other's.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="apikey_org_idx")]


class WebhookEndpoint(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000)
    # Event types delivered; empty means every type.
    event_types = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=255, blank=True)
    # Start of the current run of failed attempts; cleared by a success.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["organization", "enabled"], name="webhook_org_enabled_idx")]

    def __str__(self):
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookSecret(models.Model):
    """A signing secret, encrypted at rest; during a rotation the old one signs too."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="secrets")
    encrypted = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when a newer secret replaces this one; it keeps signing until then.
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"secret of endpoint {self.endpoint_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class WebhookDelivery(models.Model):
    """One event sent to one endpoint, attempt after attempt; no event: a test message."""

    event = models.ForeignKey(
        DirectoryEvent,
        on_delete=models.CASCADE,
        related_name="deliveries",
        null=True,
        blank=True,
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    response_excerpt = models.CharField(max_length=512, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["endpoint", "-id"], name="delivery_endpoint_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[choice.value for choice in DeliveryStatus]),
                name="delivery_status_valid",
            )
        ]

    def __str__(self):
        return f"delivery {self.pk} of event {self.event_id}"
