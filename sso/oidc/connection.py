"""What a stored OidcConnection means to the protocol: Roster's URLs for it, its client
credentials, its provider's endpoints and keys."""

from django.conf import settings
from django.urls import reverse

from sso import keystore
from sso.models import ClientAuthMethod, OidcConnection
from sso.oidc.discovery import ProviderMetadata
from sso.oidc.flow import ClientAuth, end_session_url
from sso.oidc.jwks import ProviderKeys

# What a session begun through OIDC remembers: organization, sub, sid and the ID token
# (the id_token_hint of RP-initiated logout).
SESSION_OIDC_KEY = "oidc"


def oidc_urls(organization) -> dict[str, str]:
    """The URLs an admin registers at the provider, absolute on PUBLIC_BASE_URL."""
    base, slug = settings.PUBLIC_BASE_URL, organization.slug
    return {
        "redirect_uri": base + reverse("sso:oidc_callback", args=[slug]),
        "initiate_login_uri": base + reverse("sso:login", args=[slug]),
        "backchannel_logout_uri": base + reverse("sso:oidc_backchannel_logout", args=[slug]),
        "frontchannel_logout_uri": base + reverse("sso:oidc_frontchannel_logout", args=[slug]),
        "post_logout_redirect_uri": base + reverse("sso:slo", args=[slug]),
        "jwks_url": base + reverse("sso:oidc_jwks", args=[slug]),
    }


def metadata_of(connection: OidcConnection) -> ProviderMetadata:
    return ProviderMetadata.from_dict(connection.metadata)


def provider_keys(connection: OidcConnection) -> ProviderKeys:
    return ProviderKeys(
        cache_key=f"oidc:{connection.pk}", jwks_uri=metadata_of(connection).jwks_uri
    )


def client_auth(connection: OidcConnection) -> ClientAuth:
    """The credentials Roster presents at the token endpoint, decrypted for this call."""
    if connection.client_auth_method == ClientAuthMethod.PRIVATE_KEY_JWT:
        return ClientAuth(
            client_id=connection.client_id,
            method=connection.client_auth_method,
            private_key_pem=keystore.decrypt_private_key(connection.signing_key_encrypted),
            key_id=connection.signing_key_id,
        )
    return ClientAuth(
        client_id=connection.client_id,
        method=connection.client_auth_method,
        secret=keystore.decrypt_private_key(connection.client_secret_encrypted).decode(),
    )


def end_session_redirect(session, organization) -> str:
    """Where the logout button sends a person signed in through OIDC: the provider's
    end_session_endpoint (RP-Initiated Logout 1.0 §2), or "" to stay here. Reads the
    session; call it before the session ends."""
    own = session.get(SESSION_OIDC_KEY) or {}
    if own.get("organization") != organization.slug:
        return ""
    connection = OidcConnection.objects.filter(organization=organization, enabled=True).first()
    if connection is None:
        return ""
    endpoint = metadata_of(connection).end_session_endpoint
    if not endpoint:
        return ""
    return end_session_url(
        end_session_endpoint=endpoint,
        id_token_hint=own.get("id_token", ""),
        post_logout_redirect_uri=oidc_urls(organization)["post_logout_redirect_uri"],
        client_id=connection.client_id,
    )
