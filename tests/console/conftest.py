"""Console fixtures: signed-in clients of each kind, and an IdP's metadata."""

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.test import Client

from accounts.models import Role, Source
from tests.conftest import ADMIN_PASSWORD


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="accounts.backends.ConsoleEmailBackend")
    return client


@pytest.fixture
def admin_client(org_admin):
    return _signed_in(org_admin)


@pytest.fixture
def member(organization, make_user):
    return make_user(organization, "member@acme.example", role=Role.MEMBER, password=ADMIN_PASSWORD)


@pytest.fixture
def member_client(member):
    return _signed_in(member)


@pytest.fixture
def other_admin_client(other_organization, make_user):
    """An admin of another organization: sees none of `organization`'s objects."""
    return _signed_in(
        make_user(
            other_organization,
            "admin@globex.example",
            role=Role.ADMIN,
            source=Source.MANUAL,
            password=ADMIN_PASSWORD,
        )
    )


def make_certificate(*, common_name="idp.example.com", not_after=None, email="") -> str:
    """A self-signed certificate PEM, as an IdP publishes in its metadata.

    Okta's carry an emailAddress attribute in their subject (`email`).
    """
    now = dt.datetime.now(dt.UTC)
    not_after = not_after or now + dt.timedelta(days=365)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if email:
        attributes.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    name = x509.Name(attributes)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now, not_after) - dt.timedelta(days=400))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def pem_body(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if "CERTIFICATE" not in line)


def idp_metadata(
    *,
    entity_id="http://www.okta.com/exk1abcd",
    sso_url="https://acme.okta.com/app/roster/exk1abcd/sso/saml",
    certificate=None,
) -> str:
    """IdP metadata shaped like Okta's "Identity Provider metadata" document."""
    certificate = certificate or make_certificate()
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false"
      protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>{pem_body(certificate)}</ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        Location="{sso_url}"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        Location="{sso_url}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""
