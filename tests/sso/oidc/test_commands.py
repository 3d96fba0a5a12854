"""manage.py configure_oidc and require_sso: what an operator runs, and what it refuses.

No test reaches the network: names resolve through a stub, the discovery document is
handed to the fetch, and any attempt to open a connection fails the test.
"""

import socket
from io import StringIO

import httpx
import pytest
from django.core.management import CommandError, call_command

from accounts.models import AuditAction, AuditEvent, Organization
from sso.models import ClientAuthMethod, OidcConnection
from sso.oidc.connection import client_auth
from sso.selectors import idp_of, oidc_connection_of

ISSUER = "https://idp.example.com"
# What the stubbed DNS answers; any other name fails the test.
ADDRESSES = {
    "idp.example.com": ["93.184.216.34"],
    "intranet.example.com": ["192.168.1.1"],
}
SECRET = "s3cret-value-Zq8"
URL_LINES = (
    "Redirect URI: https://roster.example.com/sso/acme/oidc/callback/\n"
    "Initiate login URI: https://roster.example.com/sso/acme/login/\n"
    "Back-channel logout URI: https://roster.example.com/sso/acme/oidc/backchannel-logout/\n"
    "Front-channel logout URI: https://roster.example.com/sso/acme/oidc/frontchannel-logout/\n"
    "JWKS URL: https://roster.example.com/sso/acme/oidc/jwks.json\n"
)


def discovery_document(issuer=ISSUER, **fields):
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth2/v1/authorize",
        "token_endpoint": f"{issuer}/oauth2/v1/token",
        "jwks_uri": f"{issuer}/oauth2/v1/keys",
        "userinfo_endpoint": f"{issuer}/oauth2/v1/userinfo",
        "end_session_endpoint": f"{issuer}/oauth2/v1/logout",
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        **fields,
    }


@pytest.fixture(autouse=True)
def no_connections(monkeypatch):
    """Every way out to the network fails the test, and is recorded."""
    attempts = []

    def refuse(name):
        def connect(*args, **kwargs):
            attempts.append(name)
            raise AssertionError(f"{name} was called: the command opened a connection")

        return connect

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(httpx.Client, "send", refuse("httpx.Client.send"))
    monkeypatch.setattr(httpx.AsyncClient, "send", refuse("httpx.AsyncClient.send"))
    yield attempts
    assert attempts == []


@pytest.fixture(autouse=True)
def stub_dns(monkeypatch, settings):
    settings.OIDC_ALLOW_LOOPBACK = False

    def resolve(hostname):
        assert hostname in ADDRESSES, f"{hostname} was resolved"
        return ADDRESSES[hostname]

    monkeypatch.setattr("accounts.events.webhooks.addresses.resolve_addresses", resolve)


@pytest.fixture
def documents(monkeypatch):
    """The provider's discovery document, as the fetch would read it; a test may change it."""
    documents = {f"{ISSUER}/.well-known/openid-configuration": discovery_document()}

    def get_json(url, **kwargs):
        assert url in documents, f"{url} was fetched"
        return documents[url]

    monkeypatch.setattr("sso.oidc.fetch.get_json", get_json)
    return documents


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "client-secret"
    path.write_text(SECRET + "\n")
    return path


def configure_oidc(*args, **options):
    out, err = StringIO(), StringIO()
    call_command("configure_oidc", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def switched_events(organization):
    return AuditEvent.objects.filter(
        organization=organization, action=AuditAction.SSO_CONNECTION_SWITCHED
    )


def test_configure_oidc_prints_the_five_urls_and_never_the_secret(
    organization, documents, secret_file
):
    out, err = configure_oidc(
        "acme", issuer=ISSUER, client_id="0oa1roster", client_secret_file=str(secret_file)
    )

    assert out == URL_LINES
    assert SECRET not in out + err
    assert err == "OpenID Connect is acme's sign-in connection.\n"


def test_configure_oidc_activates_at_once_with_no_connection_in_use(
    organization, documents, secret_file
):
    configure_oidc(
        "acme",
        issuer=ISSUER,
        client_id="0oa1roster",
        client_secret_file=str(secret_file),
        email_claim="email",
    )

    connection = oidc_connection_of(organization)
    assert (connection.issuer, connection.client_id, connection.email_claim) == (
        ISSUER,
        "0oa1roster",
        "email",
    )
    assert connection.enabled and connection.discovered
    assert connection.metadata["jwks_uri"] == f"{ISSUER}/oauth2/v1/keys"
    event = AuditEvent.objects.get(action=AuditAction.SSO_CONFIGURED, target_type="oidc_connection")
    assert (event.actor_type, event.actor_label) == ("system", "configure_oidc command")
    assert event.changes["client_secret"] == "set"
    assert SECRET not in str(event.changes)


def test_one_trailing_newline_of_the_secret_file_is_stripped(organization, documents, secret_file):
    configure_oidc(
        "acme", issuer=ISSUER, client_id="0oa1roster", client_secret_file=str(secret_file)
    )

    assert client_auth(oidc_connection_of(organization)).secret == SECRET


def test_beside_an_active_saml_idp_the_connection_waits(
    organization, saml_idp, documents, secret_file
):
    out, err = configure_oidc(
        "acme", issuer=ISSUER, client_id="0oa1roster", client_secret_file=str(secret_file)
    )

    assert out == URL_LINES
    assert err == "Saved, not in use: --activate makes it the sign-in connection.\n"
    assert not oidc_connection_of(organization).enabled
    assert idp_of(organization).enabled
    assert not switched_events(organization).exists()


def test_activate_replaces_the_saml_idp_audited(organization, saml_idp, documents, secret_file):
    configure_oidc(
        "acme", issuer=ISSUER, client_id="0oa1roster", client_secret_file=str(secret_file)
    )
    out, err = configure_oidc(
        "acme",
        issuer=ISSUER,
        client_id="0oa1roster",
        client_secret_file=str(secret_file),
        activate=True,
    )

    assert out == URL_LINES
    assert err == "OpenID Connect is acme's sign-in connection.\n"
    assert oidc_connection_of(organization).enabled
    assert not idp_of(organization).enabled
    (event,) = switched_events(organization)
    assert (event.actor_type, event.actor_label, event.changes) == (
        "system",
        "configure_oidc command",
        {"from": "saml", "to": "oidc"},
    )


def test_private_key_jwt_needs_no_secret_file(organization, documents):
    out, _ = configure_oidc(
        "acme", issuer=ISSUER, client_id="0oa1roster", auth_method="private_key_jwt"
    )

    connection = oidc_connection_of(organization)
    assert out == URL_LINES
    assert connection.client_auth_method == ClientAuthMethod.PRIVATE_KEY_JWT
    assert connection.client_secret_encrypted == ""
    assert connection.signing_key_id


@pytest.mark.parametrize(
    ("issuer", "reason"),
    [
        ("https://127.0.0.1/", "127.0.0.1 resolves to a loopback address (127.0.0.1)."),
        (
            "https://169.254.169.254/",
            "169.254.169.254 resolves to the cloud metadata address (169.254.169.254).",
        ),
        ("https://10.0.0.5/", "10.0.0.5 resolves to a private address (10.0.0.5)."),
        (
            "https://intranet.example.com/",
            "intranet.example.com resolves to a private address (192.168.1.1).",
        ),
    ],
)
def test_an_issuer_at_a_non_public_address_is_refused_before_any_request(
    organization, secret_file, no_connections, issuer, reason
):
    with pytest.raises(CommandError) as refused:
        configure_oidc(
            "acme", issuer=issuer, client_id="0oa1roster", client_secret_file=str(secret_file)
        )

    assert str(refused.value) == reason
    assert OidcConnection.objects.count() == 0
    assert not AuditEvent.objects.filter(action=AuditAction.SSO_CONFIGURED).exists()
    assert no_connections == []


@pytest.mark.parametrize(
    ("jwks_uri", "reason"),
    [
        ("https://10.0.0.5/keys", "10.0.0.5 resolves to a private address (10.0.0.5)."),
        ("https://127.0.0.1/keys", "127.0.0.1 resolves to a loopback address (127.0.0.1)."),
    ],
)
def test_a_discovered_jwks_uri_at_a_non_public_address_is_refused(
    organization, documents, secret_file, jwks_uri, reason
):
    documents[f"{ISSUER}/.well-known/openid-configuration"]["jwks_uri"] = jwks_uri

    with pytest.raises(CommandError) as refused:
        configure_oidc(
            "acme", issuer=ISSUER, client_id="0oa1roster", client_secret_file=str(secret_file)
        )

    assert str(refused.value) == (
        f"The discovery document's jwks_uri ({jwks_uri}) cannot be used: {reason}"
    )
    assert OidcConnection.objects.count() == 0


def test_an_unknown_organization_is_refused(db, secret_file):
    with pytest.raises(CommandError) as refused:
        configure_oidc(
            "nobody", issuer=ISSUER, client_id="0oa1roster", client_secret_file=str(secret_file)
        )

    assert str(refused.value) == "No organization with slug 'nobody'."


def test_an_unreadable_secret_file_is_refused(organization, tmp_path):
    missing = tmp_path / "missing"

    with pytest.raises(CommandError) as refused:
        configure_oidc(
            "acme", issuer=ISSUER, client_id="0oa1roster", client_secret_file=str(missing)
        )

    assert str(refused.value) == f"Cannot read {missing}: No such file or directory."
    assert OidcConnection.objects.count() == 0


def test_an_empty_secret_file_is_refused(organization, tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")

    with pytest.raises(CommandError) as refused:
        configure_oidc("acme", issuer=ISSUER, client_id="0oa1roster", client_secret_file=str(empty))

    assert str(refused.value) == f"{empty} is empty."
    assert OidcConnection.objects.count() == 0


def test_a_secret_method_without_a_secret_file_is_refused(organization):
    with pytest.raises(CommandError) as refused:
        configure_oidc("acme", issuer=ISSUER, client_id="0oa1roster")

    assert str(refused.value) == "client_secret_basic needs --client-secret-file."


# -- require_sso --------------------------------------------------------------------------


def require_sso(*args):
    out = StringIO()
    call_command("require_sso", *args, stdout=out)
    return out.getvalue()


def requirement_events(organization):
    return list(
        AuditEvent.objects.filter(
            organization=organization, action=AuditAction.SSO_REQUIREMENT_CHANGED
        ).order_by("id")
    )


def test_require_sso_on_and_off_audited(organization, saml_idp):
    assert require_sso("acme", "--on") == (
        "Members and admins of acme sign in with single sign-on only.\n"
    )
    assert Organization.objects.get(pk=organization.pk).sso_required
    assert require_sso("acme", "--off") == (
        "Members and admins of acme may sign in with a password again.\n"
    )
    assert not Organization.objects.get(pk=organization.pk).sso_required

    on, off = requirement_events(organization)
    assert (on.actor_type, on.actor_label, on.changes) == (
        "system",
        "require_sso command",
        {"sso_required": {"from": False, "to": True}},
    )
    assert (off.actor_label, off.changes) == (
        "require_sso command",
        {"sso_required": {"from": True, "to": False}},
    )


def test_require_sso_on_through_an_active_oidc_connection(organization, documents, secret_file):
    configure_oidc(
        "acme", issuer=ISSUER, client_id="0oa1roster", client_secret_file=str(secret_file)
    )

    require_sso("acme", "--on")

    assert Organization.objects.get(pk=organization.pk).sso_required


def test_require_sso_on_without_an_active_connection_fails(organization):
    with pytest.raises(CommandError) as refused:
        require_sso("acme", "--on")

    assert str(refused.value) == "Turn single sign-on on before requiring it."
    assert not Organization.objects.get(pk=organization.pk).sso_required
    assert requirement_events(organization) == []


def test_require_sso_needs_on_or_off(organization):
    with pytest.raises(CommandError) as refused:
        require_sso("acme")

    assert str(refused.value) == "Error: one of the arguments --on --off is required"
