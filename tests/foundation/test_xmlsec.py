"""python3-saml needs xmlsec and lxml linked against one libxml2: sign and verify for real."""

import copy

import lxml.etree as etree
import pytest
import xmlsec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DOCUMENT = b"""<Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1">
  <Subject><NameID>ada@example.com</NameID></Subject>
</Assertion>"""


@pytest.fixture(scope="module")
def key_pair():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def _sign(private_pem: bytes) -> etree._Element:
    root = etree.fromstring(DOCUMENT)
    signature = xmlsec.template.create(
        root, xmlsec.constants.TransformExclC14N, xmlsec.constants.TransformRsaSha256
    )
    root.append(signature)
    reference = xmlsec.template.add_reference(
        signature, xmlsec.constants.TransformSha256, uri="#_a1"
    )
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformExclC14N)
    xmlsec.tree.add_ids(root, ["ID"])
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(private_pem, xmlsec.constants.KeyDataFormatPem)
    context.sign(signature)
    return root


def _verify(root: etree._Element, public_pem: bytes) -> None:
    xmlsec.tree.add_ids(root, ["ID"])
    signature = xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature)
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(public_pem, xmlsec.constants.KeyDataFormatPem)
    context.verify(signature)


def test_xmlsec_and_lxml_share_one_libxml2():
    assert xmlsec.get_libxml_version() == etree.LIBXML_VERSION


def test_signed_document_verifies(key_pair):
    private_pem, public_pem = key_pair
    signed = _sign(private_pem)
    algorithm = signed.find(".//{http://www.w3.org/2000/09/xmldsig#}SignatureMethod")
    assert algorithm.get("Algorithm") == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    reparsed = etree.fromstring(etree.tostring(signed))
    _verify(reparsed, public_pem)


def test_tampered_document_fails_verification(key_pair):
    private_pem, public_pem = key_pair
    tampered = copy.deepcopy(_sign(private_pem))
    tampered.find(".//{urn:oasis:names:tc:SAML:2.0:assertion}NameID").text = "eve@example.com"
    with pytest.raises(xmlsec.Error):
        _verify(etree.fromstring(etree.tostring(tampered)), public_pem)


def test_signature_by_another_key_fails_verification(key_pair):
    _, public_pem = key_pair
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(xmlsec.Error):
        _verify(etree.fromstring(etree.tostring(_sign(other))), public_pem)
