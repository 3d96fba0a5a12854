"""The Single sign-on page's OpenID Connect part: configuring, testing, switching, status.

No test reaches the network: names resolve through a stub, the discovery document is
handed to the fetch, and any attempt to open a connection fails the test.
"""

import datetime as dt
import socket

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from console.views.sso_status import sso_summary
from sso.errors import ProviderUnavailable
from sso.models import OidcConnection
from sso.oidc.connection import client_auth
from sso.selectors import idp_of, oidc_connection_of
from sso.services import idp_configure
from tests.console.conftest import make_certificate

ISSUER = "https://idp.example.com"
ADDRESSES = {"idp.example.com": ["93.184.216.34"], "login.example.net": ["93.184.216.35"]}
SECRET = "s3cret-value-Zq8-never-shown"
DISCOVERY_URL = f"{ISSUER}/.well-known/openid-configuration"
HAND_ENTERED = {
    "authorization_endpoint": "https://login.example.net/authorize",
    "token_endpoint": "https://login.example.net/token",
    "jwks_uri": "https://login.example.net/keys",
    "userinfo_endpoint": "https://login.example.net/userinfo",
    "end_session_endpoint": "",
}


@pytest.fixture(autouse=True)
def _public_https(settings):
    settings.PUBLIC_BASE_URL = "https://roster.example.com"
    settings.PUBLIC_IS_HTTPS = True
    settings.OIDC_ALLOW_LOOPBACK = False


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Names resolve from ADDRESSES only, and opening any connection fails the test."""

    def resolve(hostname):
        assert hostname in ADDRESSES, f"{hostname} was resolved"
        return ADDRESSES[hostname]

    def refuse(*args, **kwargs):
        raise AssertionError("a connection was opened")

    monkeypatch.setattr("accounts.events.webhooks.addresses.resolve_addresses", resolve)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(httpx.AsyncClient, "send", refuse)


@pytest.fixture
def discovery(monkeypatch):
    """The provider's discovery document, as the fetch reads it; records each fetch."""
    fetched = []

    def get_json(url, **kwargs):
        fetched.append(url)
        assert url == DISCOVERY_URL
        return {
            "issuer": ISSUER,
            "authorization_endpoint": f"{ISSUER}/oauth2/v1/authorize",
            "token_endpoint": f"{ISSUER}/oauth2/v1/token",
            "jwks_uri": f"{ISSUER}/oauth2/v1/keys",
            "end_session_endpoint": f"{ISSUER}/oauth2/v1/logout",
            "response_types_supported": ["code"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    monkeypatch.setattr("sso.oidc.fetch.get_json", get_json)
    return fetched


def oidc_form(**fields):
    """The OIDC form's POST data (its fields are prefixed "oidc-"); None leaves one out."""
    data = {
        "issuer": ISSUER,
        "client_id": "0oa1roster",
        "client_secret": SECRET,
        "client_auth_method": "client_secret_basic",
        "email_claim": "",
        "allow_idp_initiated": "on",
        **fields,
    }
    return {f"oidc-{name}": value for name, value in data.items() if value is not None}


def by_hand(**fields):
    return oidc_form(manual_endpoints="on", **{**HAND_ENTERED, **fields})


@pytest.fixture
def configured(owner_client, organization, discovery):
    response = owner_client.post(reverse("console:sso_oidc"), oidc_form())
    assert response.status_code == 302
    return oidc_connection_of(organization)


@pytest.fixture
def saml_active(organization, system_actor):
    return idp_configure(
        organization=organization,
        actor=system_actor,
        entity_id="http://www.okta.com/exk1abcd",
        sso_url="https://acme.okta.com/app/roster/exk1abcd/sso/saml",
        certificates=[make_certificate()],
        enabled=True,
    )


def page(client) -> str:
    return client.get(reverse("console:sso")).content.decode()


def test_the_urls_to_register_are_on_the_page_with_copy_buttons(owner_client):
    body = page(owner_client)

    for copy_id, label, url in (
        ("oidc-redirect-uri", "Redirect URI", "/sso/acme/oidc/callback/"),
        ("oidc-initiate-login-uri", "Initiate login URI", "/sso/acme/login/"),
        (
            "oidc-backchannel-logout-uri",
            "Back-channel logout URI",
            "/sso/acme/oidc/backchannel-logout/",
        ),
        (
            "oidc-frontchannel-logout-uri",
            "Front-channel logout URI",
            "/sso/acme/oidc/frontchannel-logout/",
        ),
        ("oidc-post-logout-redirect-uri", "Post-logout redirect URI", "/sso/acme/slo/"),
        ("oidc-jwks-url", "JWKS URL", "/sso/acme/oidc/jwks.json"),
    ):
        assert f'<label for="{copy_id}">{label}' in body
        assert f'id="{copy_id}" value="https://roster.example.com{url}" readonly' in body
        assert f'data-copy-target="{copy_id}"' in body


def test_an_owner_configures_oidc_by_discovery(owner_client, organization, org_owner, discovery):
    response = owner_client.post(reverse("console:sso_oidc"), oidc_form(), follow=True)

    connection = oidc_connection_of(organization)
    assert discovery == [DISCOVERY_URL]
    assert (connection.issuer, connection.client_id, connection.discovered) == (
        ISSUER,
        "0oa1roster",
        True,
    )
    assert connection.metadata["token_endpoint"] == f"{ISSUER}/oauth2/v1/token"
    assert connection.enabled  # no other connection was in use
    assert "OpenID Connect settings saved." in response.content.decode()
    event = AuditEvent.objects.get(action=AuditAction.SSO_CONFIGURED, target_type="oidc_connection")
    assert event.actor_id == str(org_owner.pk)


def test_an_owner_configures_oidc_by_hand_entered_endpoints(owner_client, organization):
    response = owner_client.post(reverse("console:sso_oidc"), by_hand(email_claim="email"))

    assert response.status_code == 302
    connection = oidc_connection_of(organization)
    assert not connection.discovered
    assert connection.email_claim == "email"
    assert {name: connection.metadata[name] for name in HAND_ENTERED} == HAND_ENTERED


def test_hand_entered_endpoints_need_the_authorization_token_and_jwks_ones(
    owner_client, organization
):
    response = owner_client.post(
        reverse("console:sso_oidc"),
        by_hand(token_endpoint="", jwks_uri=""),
    )

    assert response.status_code == 400
    assert response.content.decode().count("Required when the endpoints are entered by hand.") == 2
    assert oidc_connection_of(organization) is None


def test_the_client_secret_is_never_rendered_back(owner_client, configured):
    assert SECRET not in page(owner_client)
    assert "A client secret is stored. It is never shown; a blank box keeps it." in page(
        owner_client
    )

    refused = owner_client.post(reverse("console:sso_oidc"), oidc_form(client_id=""))
    assert refused.status_code == 400
    assert SECRET not in refused.content.decode()


def test_a_blank_secret_keeps_the_stored_one(owner_client, organization, configured, discovery):
    response = owner_client.post(
        reverse("console:sso_oidc"), oidc_form(client_id="0oa2renamed", client_secret="")
    )

    assert response.status_code == 302
    connection = oidc_connection_of(organization)
    assert connection.client_id == "0oa2renamed"
    assert client_auth(connection).secret == SECRET


def test_an_admin_sees_the_oidc_settings_read_only_and_is_refused(
    admin_client, organization, discovery
):
    body = page(admin_client)
    assert reverse("console:sso_oidc") not in body
    assert "/sso/acme/oidc/callback/" in body

    response = admin_client.post(reverse("console:sso_oidc"), oidc_form())

    assert response.status_code == 403
    assert "Only owners can change single sign-on settings." in response.content.decode()
    assert OidcConnection.objects.count() == 0
    assert discovery == []  # refused before anything was fetched


def test_a_provider_that_does_not_answer_during_discovery_is_a_form_message(
    owner_client, organization, monkeypatch
):
    def unavailable(issuer):
        raise ProviderUnavailable(
            "provider_unreachable", detail="idp.example.com did not answer within 10 seconds."
        )

    monkeypatch.setattr("sso.oidc.discovery.discover", unavailable)

    response = owner_client.post(reverse("console:sso_oidc"), oidc_form())

    assert response.status_code == 400
    assert (
        "The identity provider did not answer: idp.example.com did not answer within 10 "
        "seconds. Nothing was saved; check the issuer URL, or try again in a moment."
    ) in response.content.decode()
    assert oidc_connection_of(organization) is None


def test_an_issuer_at_a_private_address_is_a_form_message(owner_client, organization):
    response = owner_client.post(reverse("console:sso_oidc"), oidc_form(issuer="https://10.0.0.5"))

    assert response.status_code == 400
    body = response.content.decode()
    assert "10.0.0.5 resolves to a private address (10.0.0.5)." in body
    assert 'Your change was not saved. <a href="#oidc-settings">' in body
    assert oidc_connection_of(organization) is None


def test_beside_saml_in_use_oidc_waits(owner_client, organization, saml_active, discovery):
    response = owner_client.post(reverse("console:sso_oidc"), oidc_form(), follow=True)

    assert not oidc_connection_of(organization).enabled
    body = response.content.decode()
    assert "until you test this connection and switch to it" in body
    assert '<span class="badge">Waiting</span> SAML is the connection in use.' in body
    assert "Switch to OpenID Connect" in body


def test_switching_is_refused_until_the_owner_has_tested_the_connection(
    owner_client, organization, org_owner, saml_active, discovery
):
    owner_client.post(reverse("console:sso_oidc"), oidc_form())

    refused = owner_client.post(reverse("console:sso_switch"), {"to": "oidc"})

    assert refused.status_code == 403
    assert (
        '<p class="alert alert-error" role="alert">Test sign-in through the new connection '
        "yourself first: switching is allowed once your own sign-in through it, as it is "
        "configured now, has worked.</p>"
    ) in refused.content.decode()
    assert idp_of(organization).enabled
    assert not oidc_connection_of(organization).enabled

    # What a successful test sign-in by this owner records (sso.views.oidc).
    OidcConnection.objects.filter(organization=organization).update(
        proven_by=org_owner, proven_at=timezone.now()
    )
    allowed = owner_client.post(reverse("console:sso_switch"), {"to": "oidc"}, follow=True)

    assert "People now sign in through OpenID Connect." in allowed.content.decode()
    assert oidc_connection_of(organization).enabled
    assert not idp_of(organization).enabled
    event = AuditEvent.objects.get(action=AuditAction.SSO_CONNECTION_SWITCHED)
    assert (event.actor_id, event.changes) == (str(org_owner.pk), {"from": "saml", "to": "oidc"})


def test_an_admin_cannot_switch(admin_client, organization, saml_active, org_owner, discovery):
    OidcConnection.objects.create(
        organization=organization,
        issuer=ISSUER,
        client_id="0oa1roster",
        proven_by=org_owner,
        proven_at=timezone.now() + dt.timedelta(minutes=1),
    )

    response = admin_client.post(reverse("console:sso_switch"), {"to": "oidc"})

    assert response.status_code == 403
    assert "Only owners can change single sign-on settings." in response.content.decode()
    assert idp_of(organization).enabled


def test_test_sign_in_starts_the_oidc_test(owner_client, configured):
    link = 'href="/sso/acme/login/?test=oidc">Test sign-in<span class="visually-hidden">'
    assert link in page(owner_client)

    response = owner_client.get("/sso/acme/login/?test=oidc")

    assert response.status_code == 302
    assert response["Location"].startswith(f"{ISSUER}/oauth2/v1/authorize?")


def test_turning_oidc_off_and_on(owner_client, organization, configured):
    response = owner_client.post(
        reverse("console:sso_oidc_enabled"), {"enabled": "off"}, follow=True
    )
    assert "Sign-in through OpenID Connect is off." in response.content.decode()
    assert not oidc_connection_of(organization).enabled
    assert "Turn OpenID Connect on" in response.content.decode()

    owner_client.post(reverse("console:sso_oidc_enabled"), {"enabled": "on"})
    assert oidc_connection_of(organization).enabled


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("wrong_audience", "the ID token was issued for another client (check the client ID)"),
        ("provider_unreachable", "the provider did not answer in time"),
        ("email_not_verified", "the provider does not vouch for the person&#x27;s email"),
        ("linked_to_another_subject", "the person here is already linked to another account"),
    ],
)
def test_the_last_refusal_is_shown_in_words(owner_client, configured, reason, words):
    failed_at = dt.datetime(2025, 6, 2, 9, 30, tzinfo=dt.UTC)
    OidcConnection.objects.filter(pk=configured.pk).update(
        last_failure_at=failed_at, last_failure_reason=reason
    )

    body = page(owner_client)

    assert (
        f'<time datetime="{failed_at:%Y-%m-%dT%H:%M:%S+00:00}">2025-06-02 09:30 UTC</time>: '
        in body
    )
    assert words in body
    assert f"(<code>{reason}</code>)" in body


def test_private_key_jwt_shows_roster_key_id_and_age(owner_client, organization, discovery):
    owner_client.post(
        reverse("console:sso_oidc"),
        oidc_form(client_auth_method="private_key_jwt", client_secret=""),
    )
    connection = oidc_connection_of(organization)
    OidcConnection.objects.filter(pk=connection.pk).update(
        signing_key_created_at=timezone.now() - dt.timedelta(days=40, hours=1)
    )

    body = page(owner_client)

    assert f"Key ID <code>{connection.signing_key_id}</code>" in body
    assert "(40 days old)" in body


def test_the_summary_reports_oidc_in_use_with_saml_waiting(
    owner_client, organization, configured, system_actor
):
    idp_configure(
        organization=organization,
        actor=system_actor,
        entity_id="http://www.okta.com/exk1abcd",
        sso_url="https://acme.okta.com/app/roster/exk1abcd/sso/saml",
        certificates=[make_certificate()],
    )

    summary = sso_summary(organization)

    assert (summary.status, summary.protocol, summary.provider, summary.waiting) == (
        "on",
        "oidc",
        ISSUER,
        "saml",
    )
    assert summary.idp is None
    assert (
        '<span class="badge badge-ok">On</span> People sign in through\n    OpenID Connect, '
        f"issuer <code>{ISSUER}</code>."
    ) in page(owner_client)


def test_the_summary_reports_saml_in_use_with_oidc_waiting(
    owner_client, organization, saml_active, discovery
):
    owner_client.post(reverse("console:sso_oidc"), oidc_form())

    summary = sso_summary(organization)

    assert (summary.status, summary.protocol, summary.waiting) == ("on", "saml", "oidc")
    assert summary.idp == saml_active
