import datetime as dt

import pytest
from django.urls import reverse

from accounts.models import AuditAction, AuditEvent
from sso.certificates import describe
from sso.models import SpKeyPair
from sso.selectors import idp_of
from tests.console.conftest import idp_metadata, make_certificate

OKTA_ENTITY = "http://www.okta.com/exk1abcd"


@pytest.fixture
def configured(owner_client, organization):
    owner_client.post(reverse("console:sso_metadata"), {"metadata_xml": idp_metadata()})
    owner_client.post(reverse("console:sso_enabled"), {"enabled": "on"})
    return idp_of(organization)


def test_page_lists_the_service_provider_details(owner_client, organization, settings):
    settings.PUBLIC_BASE_URL = "https://roster.example.com"
    body = owner_client.get(reverse("console:sso")).content.decode()
    for value in (
        "https://roster.example.com/sso/acme/metadata/",
        "https://roster.example.com/sso/acme/acs/",
        "Create the SP certificate",
    ):
        assert value in body
    assert "Not set up" in body


def test_opening_the_page_writes_nothing(owner_client, organization):
    before = AuditEvent.objects.count()
    assert owner_client.get(reverse("console:sso")).status_code == 200
    assert AuditEvent.objects.count() == before
    assert not SpKeyPair.objects.filter(organization=organization).exists()


def test_the_sp_certificate_is_made_by_an_explicit_action(owner_client, organization, org_owner):
    response = owner_client.post(reverse("console:sp_key_create"), follow=True)

    assert b"ready to download" in response.content
    assert reverse("console:sp_certificate").encode() in response.content
    event = AuditEvent.objects.get(action=AuditAction.SSO_CONFIGURED, target_type="saml_sp_key")
    assert (event.actor_id, event.changes["sp_key"]) == (str(org_owner.pk), "generated")
    assert event.target_label.startswith("SP certificate, expires ")
    owner_client.post(reverse("console:sp_key_create"))
    assert SpKeyPair.objects.filter(organization=organization).count() == 1


def test_sp_certificate_download(owner_client):
    assert owner_client.get(reverse("console:sp_certificate")).status_code == 404
    owner_client.post(reverse("console:sp_key_create"))
    response = owner_client.get(reverse("console:sp_certificate"))
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.content.startswith(b"-----BEGIN CERTIFICATE-----")


def test_sp_metadata_downloads_as_an_xml_file(owner_client, organization):
    owner_client.post(reverse("console:sp_key_create"))
    response = owner_client.get(reverse("console:sp_metadata"))

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="roster-acme-sp-metadata.xml"'
    assert response["Content-Type"].startswith("application/samlmetadata+xml")
    assert b"EntityDescriptor" in response.content
    page = owner_client.get(reverse("console:sso")).content.decode()
    assert f'href="{reverse("console:sp_metadata")}"' in page


def test_pasting_metadata_saves_the_identity_provider_with_sign_on_off(
    owner_client, organization, org_owner
):
    response = owner_client.post(
        reverse("console:sso_metadata"), {"metadata_xml": idp_metadata()}, follow=True
    )
    idp = idp_of(organization)
    assert idp.entity_id == OKTA_ENTITY and not idp.enabled
    assert b"Single sign-on settings saved." in response.content
    assert AuditEvent.objects.get(action=AuditAction.SSO_CONFIGURED, target_type="saml_idp")
    assert b"Turn single sign-on on" in response.content
    assert b"Test sign-in" not in response.content

    response = owner_client.post(reverse("console:sso_enabled"), {"enabled": "on"}, follow=True)
    assert idp_of(organization).enabled
    assert b"Test sign-in" in response.content


def test_sign_in_options_are_one_form_of_their_own(owner_client, organization, configured):
    body = owner_client.get(reverse("console:sso")).content.decode()
    assert body.count('name="email_attribute"') == 1
    assert body.count('name="jit_provisioning"') == 1

    owner_client.post(
        reverse("console:sso_options"), {"email_attribute": "email", "jit_provisioning": "on"}
    )
    idp = idp_of(organization)
    assert idp.email_attribute == "email" and idp.jit_provisioning
    assert not idp.allow_idp_initiated


def test_sign_in_options_need_an_identity_provider(owner_client, organization):
    body = owner_client.get(reverse("console:sso")).content.decode()
    assert 'name="email_attribute"' not in body
    response = owner_client.post(reverse("console:sso_options"), {"email_attribute": "x"})
    assert response.status_code == 302
    assert idp_of(organization) is None


def test_a_refused_form_reloads_scrolled_to_itself_and_says_so_at_the_top(owner_client):
    body = owner_client.get(reverse("console:sso")).content.decode()
    assert f'action="{reverse("console:sso_metadata")}#idp-metadata"' in body
    assert 'id="idp-metadata"' in body

    response = owner_client.post(reverse("console:sso_metadata"), {"metadata_xml": "<x"})
    body = response.content.decode()
    status_panel = body[body.index('id="status-heading"') : body.index('id="sp-heading"')]
    assert 'Your change was not saved. <a href="#idp-metadata">' in status_panel


def test_okta_saml_setup_steps_are_on_the_page(owner_client):
    body = owner_client.get(reverse("console:sso")).content.decode()
    guide = body[body.index("<summary><h3>Okta</h3></summary>") :]
    guide = guide[: guide.index("</details>")]
    assert guide.count("<li>") == 9
    assert "Audience URI (SP Entity ID)" in guide


def test_idp_certificate_shows_its_email_subject_and_full_fingerprint(owner_client, organization):
    certificate = make_certificate(common_name="dev-123456", email="info@okta.com")
    owner_client.post(
        reverse("console:sso_metadata"), {"metadata_xml": idp_metadata(certificate=certificate)}
    )
    body = owner_client.get(reverse("console:sso")).content.decode()
    fingerprint = describe(certificate).sha256_fingerprint

    assert "emailAddress=info@okta.com" in body
    assert "1.2.840.113549.1.9.1" not in body
    assert len(fingerprint) == 95
    assert fingerprint in body


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
        },
    )
    assert response.status_code == 302
    idp = idp_of(organization)
    assert idp.sso_url == "https://login.microsoftonline.com/tenant/saml2"
    assert not idp.enabled


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
    owner_client.post(reverse("console:sso_enabled"), {"enabled": "on"})
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


def test_admins_see_the_sso_settings_read_only(admin_client):
    body = admin_client.get(reverse("console:sso")).content.decode()
    assert "Only owners change single sign-on" in body
    assert reverse("console:sso_metadata") not in body
    assert reverse("console:sso_manual") not in body


def test_an_admin_cannot_turn_sso_off(admin_client, configured):
    response = admin_client.post(reverse("console:sso_enabled"), {"enabled": "off"}, follow=True)
    assert "Only owners can change single sign-on settings." in response.content.decode()
    configured.refresh_from_db()
    assert configured.enabled
