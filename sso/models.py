from django.db import models
from django.db.models import Q

from accounts.models import Organization

# What an IdP puts in NameID when the SP does not ask for a format; Okta sends
# emailAddress or unspecified depending on the app's "Name ID format".
NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"


class SamlIdentityProvider(models.Model):
    """An organization's SAML 2.0 identity provider (Okta, Entra ID, ...).

    One per organization today; the foreign key (not a one-to-one) leaves room for
    several. `certificates` holds PEM strings: every one is accepted, so an IdP can
    publish its next signing certificate before it switches (no-downtime rollover).
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="saml_identity_providers"
    )
    entity_id = models.CharField("IdP entity ID", max_length=1024)
    sso_url = models.URLField("SSO URL (HTTP-Redirect)", max_length=1024)
    slo_url = models.URLField("SLO URL (HTTP-Redirect)", max_length=1024, blank=True)
    certificates = models.JSONField(default=list, help_text="IdP signing certificates (PEM).")
    email_attribute = models.CharField(
        max_length=255,
        blank=True,
        help_text="Attribute that carries the user's email or username; empty means the NameID.",
    )
    given_name_attribute = models.CharField(max_length=255, blank=True)
    family_name_attribute = models.CharField(max_length=255, blank=True)
    name_id_format = models.CharField(max_length=255, default=NAMEID_UNSPECIFIED)
    sign_authn_requests = models.BooleanField(
        default=False, help_text="Sign AuthnRequests (the IdP's WantAuthnRequestsSigned)."
    )
    allow_idp_initiated = models.BooleanField(
        default=True, help_text="Accept unsolicited responses, as an Okta app tile sends."
    )
    jit_provisioning = models.BooleanField(
        default=False,
        help_text="Create users on first sign-in; off means only SCIM-provisioned users sign in.",
    )
    enabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "SAML identity provider"
        constraints = [
            # One per organization until several are supported end to end.
            models.UniqueConstraint(fields=["organization"], name="saml_idp_one_per_org"),
        ]

    def __str__(self):
        return f"{self.entity_id} ({self.organization_id})"


class SpKeyState(models.TextChoices):
    ACTIVE = "active", "Active: signs requests"
    NEXT = "next", "Next: published in metadata, not yet signing"
    RETIRED = "retired", "Retired"


class SpKeyPair(models.Model):
    """The service provider's signing key pair of one organization.

    The private key is stored encrypted (see sso.keystore); the certificate is public.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="saml_sp_keys"
    )
    state = models.CharField(max_length=8, choices=SpKeyState.choices)
    certificate_pem = models.TextField()
    private_key_encrypted = models.TextField()
    not_after = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "SAML SP key pair"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(state="active"),
                name="sp_key_one_active_per_org",
            ),
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(state="next"),
                name="sp_key_one_next_per_org",
            ),
        ]

    def __str__(self):
        return f"SP key {self.pk} ({self.state})"


class SamlAssertionUse(models.Model):
    """An assertion id (or a LogoutRequest id, prefixed "logout:") already accepted: a
    second use is a replay.

    Kept until the assertion could no longer be accepted anyway (its NotOnOrAfter
    plus the clock skew), then purged.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    assertion_id = models.CharField(max_length=256)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "assertion_id"], name="saml_assertion_used_once"
            ),
        ]

    def __str__(self):
        return self.assertion_id
