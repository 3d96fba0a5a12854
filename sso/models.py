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
    # The owner whose test sign-in through this IdP, as configured now, worked while
    # another connection was the active one: what switching back to SAML needs.
    proven_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    proven_at = models.DateTimeField(null=True, blank=True)
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
    """An assertion id (or a LogoutRequest id, prefixed "logout:"; an OIDC state or
    logout token id, hashed and prefixed "oidc-state:" or "oidc-logout:") already
    accepted: a second use is a replay.

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


class ClientAuthMethod(models.TextChoices):
    """How Roster proves itself at the provider's token endpoint (OIDC Core §9)."""

    CLIENT_SECRET_BASIC = "client_secret_basic", "Client secret (HTTP Basic)"
    CLIENT_SECRET_POST = "client_secret_post", "Client secret (form post)"
    PRIVATE_KEY_JWT = "private_key_jwt", "Private key JWT (a key Roster holds)"


class OidcConnection(models.Model):
    """An organization's OpenID Connect provider (Okta, Entra ID, Google, Auth0, ...).

    At most one per organization, beside its SAML identity provider; `enabled` marks
    the active sign-in connection, and at most one of the two is enabled at a time
    (sso.services.oidc keeps it so). `metadata` holds the provider's endpoints, from
    discovery or typed by hand (sso.oidc.discovery.ProviderMetadata). The client secret
    and Roster's own private key for `private_key_jwt` are encrypted at rest like the
    SAML SP keys (sso.keystore) and never shown again.
    """

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="oidc_connection"
    )
    issuer = models.URLField(max_length=1024)
    discovered = models.BooleanField(
        default=True, help_text="Endpoints read from the issuer's discovery document."
    )
    metadata = models.JSONField(default=dict)
    client_id = models.CharField(max_length=255)
    client_auth_method = models.CharField(
        max_length=32,
        choices=ClientAuthMethod.choices,
        default=ClientAuthMethod.CLIENT_SECRET_BASIC,
    )
    client_secret_encrypted = models.TextField(blank=True)
    signing_key_id = models.CharField(max_length=64, blank=True)
    signing_key_encrypted = models.TextField(blank=True)
    signing_key_created_at = models.DateTimeField(null=True, blank=True)
    email_claim = models.CharField(
        max_length=64,
        blank=True,
        help_text="Match unlinked people by this claim (with email_verified) at a verified "
        "domain; empty matches preferred_username to an IdP-owned user name.",
    )
    jit_provisioning = models.BooleanField(
        default=False,
        help_text="Create users on first sign-in; off means only SCIM-provisioned users sign in.",
    )
    allow_idp_initiated = models.BooleanField(
        default=True,
        help_text="Accept sign-ins started at the provider (third-party initiated login).",
    )
    enabled = models.BooleanField(default=False)
    # The owner whose test sign-in through this connection, as configured now, worked:
    # what switching to it needs.
    proven_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    proven_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_failure_reason = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "OpenID Connect provider"

    def __str__(self):
        return f"{self.issuer} ({self.organization_id})"


class OidcSubject(models.Model):
    """A provider's `sub` bound to one person: it signs in that person, whatever the
    other claims say (OIDC Core §5.7: sub and iss are the only stable identifier)."""

    connection = models.ForeignKey(
        OidcConnection, on_delete=models.CASCADE, related_name="subjects"
    )
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    sub = models.CharField(max_length=255)
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "sub"], name="oidc_sub_once"),
            models.UniqueConstraint(fields=["connection", "user"], name="oidc_user_once"),
        ]

    def __str__(self):
        return self.sub


class OidcSession(models.Model):
    """A Roster session begun through an OIDC connection, with the provider's session
    id (`sid`), so that the provider's back- and front-channel logout can end it."""

    connection = models.ForeignKey(OidcConnection, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    sid = models.CharField(max_length=255, blank=True, db_index=True)
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"OIDC session of {self.user_id}"
