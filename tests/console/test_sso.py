import datetime as dt

import pytest
from django.urls import reverse

from accounts.models import AuditAction, AuditEvent
from sso.selectors import idp_of
from tests.console.conftest import idp_metadata, make_certificate

OKTA_ENTITY = "http://www.okta.com/exk1abcd"


@pytest.fixture
def configured(owner_client, organization):
    owner_client.post(
        reverse("console:sso_metadata"),
        {"metadata_xml": idp_metadata(), "allow_idp_initiated": "on"},
    )
    return idp_of(organization)


def test_page_lists_the_service_provider_details(owner_client, organization, settings):
    settings.PUBLIC_BASE_URL = "https://roster.example.com"
    body = owner_client.get(reverse("console:sso")).content.decode()
    for value in (
        "https://roster.example.com/sso/acme/metadata/",
        "https://roster.example.com/sso/acme/acs/",
        reverse("console:sp_certificate"),
    ):
        assert value in body
    assert "Not set up" in body


def test_sp_certificate_download(owner_client):
    response = owner_client.get(reverse("console:sp_certificate"))
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.content.startswith(b"-----BEGIN CERTIFICATE-----")


def test_pasting_metadata_saves_the_identity_provider(owner_client, organization, org_owner):
    response = owner_client.post(
        reverse("console:sso_metadata"),
        {"metadata_xml": idp_metadata(), "email_attribute": "email", "jit_provisioning": "on"},
        follow=True,
    )
    idp = idp_of(organization)
    assert idp.entity_id == OKTA_ENTITY and idp.enabled
    assert idp.email_attribute == "email" and idp.jit_provisioning
    assert not idp.allow_idp_initiated
    assert b"Single sign-on settings saved." in response.content
    assert AuditEvent.objects.get(action=AuditAction.SSO_CONFIGURED, target_type="saml_idp")
    assert b"Test sign-in" in response.content


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("<md:EntityDescriptor", "not well-formed XML"),
        (
            '<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x">'
            "<SPSSODescriptor/></EntityDescriptor>",
            "no IDPSSODescriptor",
        ),
    ],
)
def test_bad_metadata_says_what_is_wrong(owner_client, organization, metadata, message):
    response = owner_client.post(reverse("console:sso_metadata"), {"metadata_xml": metadata})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert idp_of(organization) is None


def test_expired_certificate_is_refused_with_its_expiry_date(owner_client, organization):
    expired_on = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
    metadata = idp_metadata(certificate=make_certificate(not_after=expired_on))
    response = owner_client.post(reverse("console:sso_metadata"), {"metadata_xml": metadata})
    assert response.status_code == 400
    assert "expired on 2024-03-01" in response.content.decode()
    assert idp_of(organization) is None


def test_manual_details(owner_client, organization):
    response = owner_client.post(
        reverse("console:sso_manual"),
        {
            "entity_id": "https://sts.windows.net/tenant/",
            "sso_url": "https://login.microsoftonline.com/tenant/saml2",
            "certificate": make_certificate(),
            "email_attribute": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            "allow_idp_initiated": "on",
        },
    )
    assert response.status_code == 302
    idp = idp_of(organization)
    assert idp.sso_url == "https://login.microsoftonline.com/tenant/saml2"
    assert idp.allow_idp_initiated and not idp.jit_provisioning


def test_manual_details_refuse_a_non_certificate(owner_client, organization):
    response = owner_client.post(
        reverse("console:sso_manual"),
        {"entity_id": "x", "sso_url": "https://idp.example.com/sso", "certificate": "hello"},
    )
    assert response.status_code == 400
    assert b"not a valid X.509 certificate" in response.content


def test_turning_sso_off_and_on(owner_client, organization, configured):
    owner_client.post(reverse("console:sso_enabled"), {"enabled": "off"})
    assert not idp_of(organization).enabled
    assert b"Turn single sign-on on" in owner_client.get(reverse("console:sso")).content
    owner_client.post(reverse("console:sso_enabled"), {"enabled": "on"})
    assert idp_of(organization).enabled


def test_turning_on_without_an_identity_provider_is_explained(owner_client):
    response = owner_client.post(reverse("console:sso_enabled"), {"enabled": "on"}, follow=True)
    assert b"Configure an identity provider before" in response.content


def test_certificate_expiring_within_30_days_is_warned_about(owner_client, organization):
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=12, hours=1)
    metadata = idp_metadata(certificate=make_certificate(not_after=soon))
    owner_client.post(reverse("console:sso_metadata"), {"metadata_xml": metadata})
    for page in ("console:sso", "console:home"):
        body = owner_client.get(reverse(page)).content.decode()
        assert f"expires on {soon:%Y-%m-%d} (in 12 days)" in body


def test_no_warning_for_a_long_lived_certificate(owner_client, configured, settings):
    settings.PUBLIC_IS_HTTPS = True  # so the only warning there could be is the certificate's
    assert b"alert-warn" not in owner_client.get(reverse("console:sso")).content


def test_test_sign_in_opens_the_sp_initiated_flow(owner_client, organization, configured):
    from django.test import Client

    body = owner_client.get(reverse("console:sso")).content.decode()
    login_path = reverse("sso:login", args=[organization.slug])
    link = f"{login_path}?next={reverse('console:sso')}"
    assert link in body
    response = Client().get(link)
    assert response.status_code == 302
    assert response["Location"].startswith(
        "https://acme.okta.com/app/roster/exk1abcd/sso/saml?SAMLRequest="
    )


@pytest.mark.parametrize(("https", "warned"), [(False, True), (True, False)])
def test_an_http_address_warns_that_sp_initiated_sign_in_needs_https(
    owner_client, configured, settings, https, warned
):
    settings.PUBLIC_IS_HTTPS = https
    body = owner_client.get(reverse("console:sso")).content
    assert (b"works only over https" in body) is warned
