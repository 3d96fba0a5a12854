"""A SAML 2.0 identity provider for the tests, shaped like Okta's.

Responses carry a signed Assertion inside a signed Response (RSA-SHA256, exclusive
c14n), each Signature placed right after its Issuer as saml-schema-protocol-2.0
requires. Keys and certificates are generated with `cryptography`.
"""

import base64
import datetime as dt
import uuid
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"saml2p": SAMLP, "saml2": SAML, "ds": DS}
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
ENTITY_FORMAT = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"


def make_certificate(common_name: str, *, days: int = 3650, expired: bool = False):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    start, end = (
        (now - dt.timedelta(days=800), now - dt.timedelta(days=1))
        if expired
        else (now - dt.timedelta(days=1), now + dt.timedelta(days=days))
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


class _Sha1Signer(XMLSigner):
    """signxml refuses SHA-1 by default; the tests need it to prove the SP refuses it."""

    def check_deprecated_methods(self):
        return None


def _timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _new_id() -> str:
    return "id" + uuid.uuid4().hex


@dataclass
class Assertion:
    """What one response says; tests change fields to build the bad cases."""

    name_id: str
    audience: str
    recipient: str
    destination: str | None
    in_response_to: str | None = None
    name_id_format: str = EMAIL_FORMAT
    attributes: dict = field(default_factory=dict)
    issuer: str | None = None
    not_before: dt.timedelta = dt.timedelta(minutes=-5)
    not_on_or_after: dt.timedelta = dt.timedelta(minutes=5)
    confirmation_not_on_or_after: dt.timedelta | None = None
    assertion_id: str = field(default_factory=_new_id)
    response_id: str = field(default_factory=_new_id)
    session_index: str = field(default_factory=_new_id)


class TestIdentityProvider:
    __test__ = False

    def __init__(self, entity_id="http://www.okta.com/exk1roster0test0idp", common_name="okta"):
        self.entity_id = entity_id
        self.sso_url = "https://acme.okta.example/app/roster/exk1roster0test0idp/sso/saml"
        self.slo_url = "https://acme.okta.example/app/roster/exk1roster0test0idp/slo/saml"
        self.key_pem, self.certificate_pem = make_certificate(common_name)

    def certificate_body(self) -> str:
        return "".join(self.certificate_pem.strip().splitlines()[1:-1])

    # Building ---------------------------------------------------------------

    def _issuer(self, parent, value):
        issuer = etree.SubElement(parent, f"{{{SAML}}}Issuer", Format=ENTITY_FORMAT)
        issuer.text = value or self.entity_id
        return issuer

    def _placeholder(self, parent):
        return etree.SubElement(parent, f"{{{DS}}}Signature", Id="placeholder")

    def assertion_element(self, a: Assertion, *, now=None, sign=True):
        now = now or dt.datetime.now(dt.UTC)
        root = etree.Element(
            f"{{{SAML}}}Assertion",
            nsmap={"saml2": SAML},
            ID=a.assertion_id,
            IssueInstant=_timestamp(now),
            Version="2.0",
        )
        self._issuer(root, a.issuer)
        if sign:
            self._placeholder(root)
        subject = etree.SubElement(root, f"{{{SAML}}}Subject")
        name_id = etree.SubElement(subject, f"{{{SAML}}}NameID", Format=a.name_id_format)
        name_id.text = a.name_id
        confirmation = etree.SubElement(subject, f"{{{SAML}}}SubjectConfirmation", Method=BEARER)
        data = etree.SubElement(confirmation, f"{{{SAML}}}SubjectConfirmationData")
        if a.in_response_to:
            data.set("InResponseTo", a.in_response_to)
        confirmation_expiry = a.confirmation_not_on_or_after or a.not_on_or_after
        data.set("NotOnOrAfter", _timestamp(now + confirmation_expiry))
        data.set("Recipient", a.recipient)
        conditions = etree.SubElement(
            root,
            f"{{{SAML}}}Conditions",
            NotBefore=_timestamp(now + a.not_before),
            NotOnOrAfter=_timestamp(now + a.not_on_or_after),
        )
        restriction = etree.SubElement(conditions, f"{{{SAML}}}AudienceRestriction")
        etree.SubElement(restriction, f"{{{SAML}}}Audience").text = a.audience
        statement = etree.SubElement(
            root,
            f"{{{SAML}}}AuthnStatement",
            AuthnInstant=_timestamp(now),
            SessionIndex=a.session_index,
        )
        context = etree.SubElement(statement, f"{{{SAML}}}AuthnContext")
        etree.SubElement(
            context, f"{{{SAML}}}AuthnContextClassRef"
        ).text = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        if a.attributes:
            attributes = etree.SubElement(root, f"{{{SAML}}}AttributeStatement")
            for name, values in a.attributes.items():
                attribute = etree.SubElement(
                    attributes,
                    f"{{{SAML}}}Attribute",
                    Name=name,
                    NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified",
                )
                for value in values if isinstance(values, list) else [values]:
                    element = etree.SubElement(
                        attribute,
                        f"{{{SAML}}}AttributeValue",
                        nsmap={"xs": XS, "xsi": XSI},
                    )
                    element.set(f"{{{XSI}}}type", "xs:string")
                    element.text = value
        return root

    def _signer(self, algorithm: str):
        if algorithm == "sha1":
            return _Sha1Signer(
                signature_algorithm=SignatureMethod.RSA_SHA1,
                digest_algorithm=DigestAlgorithm.SHA1,
                c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
            )
        return XMLSigner(
            signature_algorithm=SignatureMethod.RSA_SHA256,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
        )

    def sign(self, element, *, algorithm="sha256", key_pem=None, certificate_pem=None):
        return self._signer(algorithm).sign(
            element,
            key=key_pem or self.key_pem,
            cert=certificate_pem or self.certificate_pem,
            reference_uri=element.get("ID"),
            id_attribute="ID",
        )

    def response_element(
        self,
        a: Assertion,
        *,
        sign_assertion=True,
        sign_response=True,
        algorithm="sha256",
        signing_idp=None,
        now=None,
    ):
        signer = signing_idp or self
        keys = {"key_pem": signer.key_pem, "certificate_pem": signer.certificate_pem}
        now = now or dt.datetime.now(dt.UTC)
        assertion = self.assertion_element(a, now=now, sign=sign_assertion)
        if sign_assertion:
            assertion = self.sign(assertion, algorithm=algorithm, **keys)
        response = etree.Element(
            f"{{{SAMLP}}}Response",
            nsmap={"saml2p": SAMLP},
            ID=a.response_id,
            IssueInstant=_timestamp(now),
            Version="2.0",
        )
        if a.destination is not None:
            response.set("Destination", a.destination)
        if a.in_response_to:
            response.set("InResponseTo", a.in_response_to)
        self._issuer(response, a.issuer)
        if sign_response:
            self._placeholder(response)
        status = etree.SubElement(response, f"{{{SAMLP}}}Status")
        etree.SubElement(status, f"{{{SAMLP}}}StatusCode", Value=SUCCESS)
        response.append(assertion)
        if sign_response:
            response = self.sign(response, algorithm=algorithm, **keys)
        return response

    def response(self, a: Assertion, **options) -> bytes:
        return etree.tostring(self.response_element(a, **options))

    @staticmethod
    def encode(xml: bytes | str) -> str:
        if isinstance(xml, str):
            xml = xml.encode()
        return base64.b64encode(xml).decode()

    def metadata(self, *, extra_certificate_pem: str | None = None) -> str:
        """IdP metadata as Okta publishes it (Download / "Identity Provider metadata")."""

        def key_descriptor(pem):
            body = "".join(pem.strip().splitlines()[1:-1])
            return (
                '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
                f"<ds:X509Data><ds:X509Certificate>{body}</ds:X509Certificate></ds:X509Data>"
                "</ds:KeyInfo></md:KeyDescriptor>"
            )

        keys = key_descriptor(self.certificate_pem)
        if extra_certificate_pem:
            keys += key_descriptor(extra_certificate_pem)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            f'entityID="{self.entity_id}">'
            '<md:IDPSSODescriptor WantAuthnRequestsSigned="false" '
            'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            f"{keys}"
            "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>"
            "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>"
            '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
            f'Location="{self.sso_url}"/>'
            '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            f'Location="{self.sso_url}"/>'
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        )
