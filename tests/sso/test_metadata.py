"""IdP configuration from metadata or fields, and the SP metadata we publish."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from lxml import etree
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from accounts.models import AuditAction, AuditEvent
from sso import certificates
from sso.errors import MetadataError
from sso.metadata import fetch_idp_metadata
from sso.models import SamlIdentityProvider
from sso.selectors import idp_of, sp_keys_of
from sso.services import idp_configure, idp_configure_from_metadata
from sso.sp import build_saml_settings, sp_certificate_pem, sp_urls
from tests.sso.idp import TestIdentityProvider, make_certificate

pytestmark = pytest.mark.django_db
MD = "urn:oasis:names:tc:SAML:2.0:metadata"


def test_okta_metadata_import_keeps_only_the_idp_part(organization, idp, system_actor):
    configured = idp_configure_from_metadata(
        organization=organization,
        actor=system_actor,
        metadata_xml=idp.metadata(),
        email_attribute="email",
    )

    assert configured == idp_of(organization)
    assert configured.entity_id == idp.entity_id
    assert configured.sso_url == idp.sso_url
    assert configured.certificates == [certificates.describe(idp.certificate_pem).pem]
    assert configured.email_attribute == "email"
    # Defaults: IdP-initiated on, JIT off, sign-on off until turned on, NameID unchanged.
    assert (configured.allow_idp_initiated, configured.jit_provisioning, configured.enabled) == (
        True,
        False,
        False,
    )
    assert configured.name_id_format.endswith(":unspecified")
    event = AuditEvent.objects.get(
        organization=organization, action=AuditAction.SSO_CONFIGURED, target_type="saml_idp"
    )
    assert event.changes["entity_id"] == {"from": "", "to": idp.entity_id}


def test_metadata_with_two_signing_certificates_keeps_both(organization, idp, system_actor):
    _, next_pem = make_certificate("okta-next")
    configured = idp_configure_from_metadata(
        organization=organization,
        actor=system_actor,
        metadata_xml=idp.metadata(extra_certificate_pem=next_pem),
    )
    assert len(configured.certificates) == 2


def test_reconfiguring_with_the_same_metadata_changes_nothing(organization, idp, system_actor):
    for _ in range(2):
        idp_configure_from_metadata(
            organization=organization, actor=system_actor, metadata_xml=idp.metadata()
        )
    assert SamlIdentityProvider.objects.filter(organization=organization).count() == 1
    assert (
        AuditEvent.objects.filter(
            organization=organization, action=AuditAction.SSO_CONFIGURED, target_type="saml_idp"
        ).count()
        == 1
    )


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("", "empty"),
        ("<md:EntityDescriptor", "not well-formed"),
        (
            '<!DOCTYPE x [<!ENTITY e "x">]><md:EntityDescriptor xmlns:md="'
            + MD
            + '" entityID="&e;"/>',
            "DTD",
        ),
        (
            f'<md:EntityDescriptor xmlns:md="{MD}" entityID="https://sp.example">'
            "<md:SPSSODescriptor "
            'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/>'
            "</md:EntityDescriptor>",
            "no IDPSSODescriptor",
        ),
    ],
)
def test_unusable_metadata_is_refused_with_a_clear_message(
    organization, system_actor, metadata, message
):
    with pytest.raises(MetadataError, match=message):
        idp_configure_from_metadata(
            organization=organization, actor=system_actor, metadata_xml=metadata
        )
    assert idp_of(organization) is None


def test_metadata_without_a_redirect_sso_service_is_refused(organization, idp, system_actor):
    metadata = idp.metadata().replace("HTTP-Redirect", "HTTP-Artifact")
    with pytest.raises(MetadataError, match="HTTP-Redirect"):
        idp_configure_from_metadata(
            organization=organization, actor=system_actor, metadata_xml=metadata
        )


def test_expired_idp_certificate_is_refused_with_its_expiry_date(organization, idp, system_actor):
    _, expired_pem = make_certificate("okta-old", expired=True)
    expiry = certificates.describe(expired_pem).not_after
    with pytest.raises(MetadataError, match=f"expired on {expiry:%Y-%m-%d}"):
        idp_configure(
            organization=organization,
            actor=system_actor,
            entity_id=idp.entity_id,
            sso_url=idp.sso_url,
            certificates=[expired_pem],
        )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sso_url": "http://idp.example/sso"}, "https"),
        ({"sso_url": "javascript:alert(1)"}, "https"),
        ({"entity_id": ""}, "entity ID"),
        ({"certificates": []}, "certificate"),
        ({"certificates": ["not a certificate"]}, "X.509"),
    ],
)
def test_field_by_field_configuration_is_validated(
    organization, idp, system_actor, fields, message
):
    base = {
        "entity_id": idp.entity_id,
        "sso_url": idp.sso_url,
        "certificates": [idp.certificate_pem],
    }
    with pytest.raises(MetadataError, match=message):
        idp_configure(organization=organization, actor=system_actor, **{**base, **fields})


def test_certificate_expiries_lists_each_certificate(organization, saml_idp, idp):
    (info,) = certificates.certificate_expiries(saml_idp)
    assert info.not_after > dt.datetime.now(dt.UTC) + dt.timedelta(days=3000)
    assert info.subject == "CN=okta"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://idp.example/metadata", "https"),
        ("file:///etc/passwd", "https"),
        ("https://127.0.0.1/metadata", "private"),
        ("https://169.254.169.254/latest/meta-data", "private"),
        ("https://[::1]/metadata", "private"),
        ("https://10.0.0.5/metadata", "private"),
        ("https://localhost/metadata", "private"),
    ],
)
def test_metadata_url_fetch_refuses_non_https_and_private_addresses(url, message):
    with pytest.raises(MetadataError, match=message):
        fetch_idp_metadata(url)


def test_sp_urls_come_from_the_public_base_url(organization):
    assert sp_urls(organization) == {
        "entity_id": "https://roster.example.com/sso/acme/metadata/",
        "metadata_url": "https://roster.example.com/sso/acme/metadata/",
        "acs_url": "https://roster.example.com/sso/acme/acs/",
        "slo_url": "https://roster.example.com/sso/acme/slo/",
        "login_url": "https://roster.example.com/sso/acme/login/",
    }


def test_sp_metadata_is_valid_per_python3_saml(client, organization, saml_idp):
    response = client.get("/sso/acme/metadata/", HTTP_HOST="localhost")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/samlmetadata+xml")
    xml = response.content.decode()
    config = build_saml_settings(
        organization=organization, idp=saml_idp, keys=sp_keys_of(organization)
    )
    assert OneLogin_Saml2_Settings(config, sp_validation_only=True).validate_metadata(xml) == []
    root = etree.fromstring(response.content)
    assert root.get("entityID") == "https://roster.example.com/sso/acme/metadata/"
    descriptor = root.find(f"{{{MD}}}SPSSODescriptor")
    assert descriptor.get("WantAssertionsSigned") == "true"
    acs = descriptor.find(f"{{{MD}}}AssertionConsumerService")
    assert acs.get("Location") == "https://roster.example.com/sso/acme/acs/"
    slo = descriptor.find(f"{{{MD}}}SingleLogoutService")
    assert slo.get("Location") == "https://roster.example.com/sso/acme/slo/"
    body = "".join(sp_certificate_pem(organization).strip().splitlines()[1:-1])
    assert body in xml


def test_sp_metadata_is_served_before_the_idp_is_configured(client, organization, system_actor):
    from sso.services import sp_keys_ensure

    sp_keys_ensure(organization=organization, actor=system_actor)
    assert client.get("/sso/acme/metadata/").status_code == 200


def test_configuring_the_first_idp_makes_the_sp_key_and_leaves_sign_on_off(saml_idp):
    from sso.models import SpKeyPair

    assert SpKeyPair.objects.filter(organization=saml_idp.organization).count() == 1


def test_unknown_organization_has_no_metadata(client, db):
    assert client.get("/sso/nope/metadata/").status_code == 404


def test_configure_saml_command_from_a_metadata_file(organization, idp, tmp_path):
    path = tmp_path / "okta.xml"
    path.write_text(idp.metadata())
    out = StringIO()

    call_command(
        "configure_saml",
        "acme",
        "--metadata-file",
        str(path),
        "--email-attribute",
        "email",
        "--no-idp-initiated",
        "--jit",
        stdout=out,
    )

    configured = idp_of(organization)
    assert (configured.entity_id, configured.email_attribute) == (idp.entity_id, "email")
    assert (configured.allow_idp_initiated, configured.jit_provisioning) == (False, True)
    assert "https://roster.example.com/sso/acme/acs/" in out.getvalue()


def test_configure_saml_command_field_by_field(organization, idp, tmp_path):
    cert = tmp_path / "okta.pem"
    cert.write_text(idp.certificate_pem)

    call_command(
        "configure_saml",
        "acme",
        "--entity-id",
        idp.entity_id,
        "--sso-url",
        idp.sso_url,
        "--cert-file",
        str(cert),
        stdout=StringIO(),
    )

    assert idp_of(organization).sso_url == idp.sso_url


def test_configure_saml_command_reports_bad_metadata(organization, tmp_path):
    path = tmp_path / "sp.xml"
    path.write_text(f'<md:EntityDescriptor xmlns:md="{MD}" entityID="x"/>')
    with pytest.raises(CommandError, match="IDPSSODescriptor"):
        call_command("configure_saml", "acme", "--metadata-file", str(path))


def test_entra_metadata_shape_is_accepted(organization, system_actor):
    entra = TestIdentityProvider(
        entity_id="https://sts.windows.net/00000000-0000-0000-0000-000000000000/"
    )
    metadata = entra.metadata().replace(
        "<md:IDPSSODescriptor",
        '<md:RoleDescriptor xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706" '
        'xsi:type="fed:SecurityTokenServiceType" '
        'protocolSupportEnumeration="http://docs.oasis-open.org/wsfed/federation/200706"/>'
        "<md:IDPSSODescriptor",
    )
    configured = idp_configure_from_metadata(
        organization=organization, actor=system_actor, metadata_xml=metadata
    )
    assert configured.entity_id == entra.entity_id
