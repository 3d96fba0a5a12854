from django.conf import settings
from django.db import models

from accounts.keyed_secrets import KeyedSecret
from accounts.models import Organization


class ProvisioningToken(KeyedSecret):
    """A bearer credential that lets one identity provider provision one organization.

    A keyed secret (provisioning.tokens.PROVISIONING_TOKEN): only its prefix and keyed
    digest are kept, so a database dump cannot be replayed against the API.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="provisioning_tokens"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="token_org_created_idx"),
        ]


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


class ResourceCount(models.Model):
    """One change to the number of an organization's users or groups; their sum is it.

    Written by database triggers (migration 0005) in the transaction of every INSERT,
    DELETE or COPY on the users' and groups' tables, whichever code path ran it: one
    row per statement and organization, never an update. Concurrent writers therefore
    never wait for each other, as they would on a single counter row; a reader sums the
    rows of one organization (provisioning.counts), and folds them into one when they
    pile up. PostgreSQL only: elsewhere the lists count with COUNT(*).
    """

    # The database deletes the rows with their organization (ON DELETE CASCADE, added
    # by the migration): the deletion of an organization's users adds rows while
    # Django's collector is already past this table.
    organization = models.ForeignKey(
        Organization, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    resource = models.CharField(max_length=8)
    delta = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["organization", "resource", "id"], name="rescount_org_idx"),
        ]

    def __str__(self):
        return f"{self.resource} {self.delta:+d}"
