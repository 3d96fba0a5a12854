"""What the console says about an organization's single sign-on at a glance.

An organization signs in through one connection at a time, its SAML identity provider
or its OpenID Connect connection; the summary names the one in use whichever it is.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from sso.certificates import CertificateInfo, certificate_expiries
from sso.models import ClientAuthMethod, OidcConnection
from sso.selectors import idp_of, oidc_connection_of
from sso.services.oidc import OIDC, SAML

# Identity providers rotate signing certificates; warn this long before one expires.
CERTIFICATE_WARNING = timedelta(days=30)

# The refusal codes a connection's last failure is recorded with (sso.views.oidc, the
# same codes as the audit trail), in an owner's words. Others are shown as their code.
OIDC_FAILURE_WORDS = {
    "wrong_issuer": "the provider named another issuer than the one configured (check the "
    "issuer URL, trailing slash included)",
    "wrong_audience": "the ID token was issued for another client (check the client ID)",
    "expired": "the ID token had expired (check the provider's and this server's clocks)",
    "nonce_mismatch": "the ID token answered another sign-in than the one begun here",
    "unknown_kid": "the ID token was signed with a key the provider's JWKS does not list",
    "bad_signature": "the ID token's signature did not verify",
    "code_rejected": "the provider refused the authorization code (check the client secret "
    "or key, and the redirect URI)",
    "provider_unreachable": "the provider did not answer in time",
    "provider_5xx": "the provider answered with a server error",
    "email_not_verified": "the provider does not vouch for the person's email "
    "(email_verified is not true)",
    "email_not_in_verified_domain": "the person's email is not at one of your verified domains",
    "unknown_user": "nobody here matches the person (not provisioned, and just-in-time "
    "creation is off)",
    "linked_to_another_subject": "the person here is already linked to another account at "
    "the provider",
    "user_deactivated": "the person is deactivated here",
    "missing_claim": "the ID token lacked the claim people are matched by",
    "test_user_mismatch": "the test sign-in signed in someone else than the owner testing",
    "discovery_refused": "the provider's discovery document now names another issuer or an "
    "unsafe URL (check the provider, then save the settings again)",
}


@dataclass
class SsoSummary:
    status: str  # "none", "off" or "on"
    # The connection summarized: the active one, else the SAML IdP, else the OIDC one.
    protocol: str = ""  # "saml", "oidc" or "" (none configured)
    connection: object = None
    provider: str = ""  # its IdP entity ID or OIDC issuer
    # The other protocol, configured but not in use while `protocol` is active.
    waiting: str = ""
    certificates: list[CertificateInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def idp(self):
        """The SAML IdP when SAML is the connection summarized (the overview reads it)."""
        return self.connection if self.protocol == SAML else None


@dataclass(frozen=True)
class OidcStatus:
    """The OpenID Connect connection as its settings page shows it."""

    connection: OidcConnection
    state: str  # "active", "pending" (another connection is active) or "off"
    failure_words: str
    key_age_days: int | None

    @property
    def secret_stored(self) -> bool:
        return bool(self.connection.client_secret_encrypted)

    @property
    def uses_private_key(self) -> bool:
        return self.connection.client_auth_method == ClientAuthMethod.PRIVATE_KEY_JWT

    @property
    def failed_last(self) -> bool:
        failed, succeeded = self.connection.last_failure_at, self.connection.last_success_at
        return failed is not None and (succeeded is None or failed > succeeded)


def failure_words(reason: str) -> str:
    return OIDC_FAILURE_WORDS.get(reason, "")


def oidc_status(connection: OidcConnection | None, *, saml_active: bool) -> OidcStatus | None:
    if connection is None:
        return None
    return OidcStatus(
        connection=connection,
        state="active" if connection.enabled else ("pending" if saml_active else "off"),
        failure_words=failure_words(connection.last_failure_reason),
        key_age_days=_age_days(connection.signing_key_created_at),
    )


def _age_days(created_at: datetime | None) -> int | None:
    return None if created_at is None else (timezone.now() - created_at).days


def sso_summary(organization) -> SsoSummary:
    return summarize(idp_of(organization), oidc_connection_of(organization))


def summarize(idp, oidc: OidcConnection | None) -> SsoSummary:
    """The summary of an organization's SAML IdP and OIDC connection (either may be None)."""
    if idp is None and oidc is None:
        return SsoSummary(status="none")
    if idp is not None and (idp.enabled or oidc is None or not oidc.enabled):
        summary = SsoSummary(status="on" if idp.enabled else "off", protocol=SAML)
        summary.connection, summary.provider = idp, idp.entity_id
        summary.waiting = OIDC if oidc is not None and idp.enabled else ""
        summary.certificates = certificate_expiries(idp)
        summary.warnings = _certificate_warnings(summary.certificates)
        return summary
    summary = SsoSummary(status="on" if oidc.enabled else "off", protocol=OIDC)
    summary.connection, summary.provider = oidc, oidc.issuer
    summary.waiting = SAML if idp is not None and oidc.enabled else ""
    return summary


def _certificate_warnings(certificates: list[CertificateInfo]) -> list[str]:
    if not certificates:
        return []
    now = timezone.now()
    # With a rollover in place, the certificate that lasts longest is the one to watch.
    latest = certificates[-1]
    if latest.not_after <= now:
        return [
            f"The IdP signing certificate {latest.subject} expired on "
            f"{latest.not_after:%Y-%m-%d}; sign-ins are refused until you paste the identity "
            "provider's current metadata or certificate."
        ]
    if latest.not_after - now < CERTIFICATE_WARNING:
        days = (latest.not_after - now).days
        return [
            f"The IdP signing certificate {latest.subject} expires on "
            f"{latest.not_after:%Y-%m-%d} (in {days} day{'s' if days != 1 else ''}). "
            "Add the identity provider's new certificate before then."
        ]
    return []
