from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Organization


class TokenStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class ProvisioningToken(models.Model):
    """A bearer credential that lets one identity provider provision one organization.

    Only a keyed HMAC-SHA256 digest of the secret is kept (see provisioning.tokens),
    so a database dump cannot be replayed against the API, with the id of the hash key
    that made it (TOKEN_HASH_KEYS). `prefix` is the secret's non-secret head: it finds
    the row and tells tokens apart in logs and the console.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="provisioning_tokens"
    )
    label = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    key_id = models.CharField(max_length=32)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="token_org_created_idx"),
        ]

    def __str__(self):
        return f"{self.prefix} ({self.label})" if self.label else self.prefix

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return TokenStatus.REVOKED
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return TokenStatus.EXPIRED
        return TokenStatus.ACTIVE

    @property
    def is_live(self) -> bool:
        return self.status == TokenStatus.ACTIVE


class ScimRequest(models.Model):
    """One SCIM request an identity provider sent with a token of this organization.

    Written once by the request gate (provisioning.request_log), never changed, purged
    after SCIM_LOG_RETENTION_DAYS. `body` is kept for failed writes only, with secrets
    removed; `request_id` ties the request to the audit events it caused.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="scim_requests"
    )
    token = models.ForeignKey(
        ProvisioningToken, on_delete=models.SET_NULL, null=True, related_name="requests"
    )
    at = models.DateTimeField()
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    resource = models.CharField(max_length=32, blank=True)
    status = models.PositiveSmallIntegerField()
    duration_ms = models.FloatField()
    request_id = models.CharField(max_length=64, blank=True)
    scim_type = models.CharField(max_length=32, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-at", "-id"], name="scimreq_org_time_idx"),
            models.Index(fields=["token", "-at"], name="scimreq_token_time_idx"),
            models.Index(fields=["organization", "request_id"], name="scimreq_org_request_idx"),
            models.Index(fields=["at"], name="scimreq_time_idx"),
        ]

    def __str__(self):
        return f"{self.method} {self.path} {self.status}"

    @property
    def failed(self) -> bool:
        return self.status >= 400
