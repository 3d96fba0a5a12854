"""python3-saml's schema and XPath work, compiled once, answering as the library does."""

import pytest
from lxml import etree
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from sso import compiled_xml
from tests.sso.idp import Assertion, TestIdentityProvider

PROTOCOL_SCHEMA = "saml-schema-protocol-2.0.xsd"


@pytest.fixture(scope="module")
def signed_response():
    idp = TestIdentityProvider()
    return idp.response(
        Assertion(
            name_id="jane.doe@acme.example",
            audience="https://roster.example.com/sso/acme/metadata/",
            recipient="https://roster.example.com/sso/acme/acs/",
            destination="https://roster.example.com/sso/acme/acs/",
        )
    )


def test_the_library_uses_the_compiled_schema_and_xpath_functions():
    assert OneLogin_Saml2_XML.validate_xml is compiled_xml.validate_xml
    assert OneLogin_Saml2_XML.query is compiled_xml.query


def test_a_schema_is_compiled_once():
    assert compiled_xml.compiled_schema(PROTOCOL_SCHEMA) is compiled_xml.compiled_schema(
        PROTOCOL_SCHEMA
    )


def test_a_valid_response_passes_the_schema_as_with_the_library(signed_response):
    ours = compiled_xml.validate_xml(signed_response, PROTOCOL_SCHEMA)
    library = compiled_xml.LIBRARY_VALIDATE_XML(signed_response, PROTOCOL_SCHEMA)
    assert isinstance(ours, etree._Element)
    assert etree.tostring(ours) == etree.tostring(library)


def test_a_response_breaking_the_schema_is_invalid_xml_as_with_the_library(signed_response):
    # A Response without its required Version attribute.
    broken = etree.fromstring(signed_response)
    del broken.attrib["Version"]
    assert compiled_xml.validate_xml(broken, PROTOCOL_SCHEMA) == "invalid_xml"
    assert compiled_xml.LIBRARY_VALIDATE_XML(broken, PROTOCOL_SCHEMA) == "invalid_xml"


@pytest.mark.parametrize(
    "document",
    [b"not xml at all", b'<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>'],
    ids=["malformed", "entity"],
)
def test_unloadable_xml_is_unloaded_xml_as_with_the_library(document):
    assert compiled_xml.validate_xml(document, PROTOCOL_SCHEMA) == "unloaded_xml"
    assert compiled_xml.LIBRARY_VALIDATE_XML(document, PROTOCOL_SCHEMA) == "unloaded_xml"


@pytest.mark.parametrize(
    "expression",
    [
        "/samlp:Response/saml:Assertion",
        "/samlp:Response/saml:Assertion/saml:Subject/saml:NameID",
        "//ds:Signature",
        "//ds:Reference",
    ],
)
def test_queries_find_what_the_library_finds(signed_response, expression):
    document = etree.fromstring(signed_response)
    ours = compiled_xml.query(document, expression)
    assert ours
    assert ours == compiled_xml.LIBRARY_QUERY(document, expression)


def test_a_query_with_a_tag_id_binds_it_as_the_library_does(signed_response):
    document = etree.fromstring(signed_response)
    assertion_id = document.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion").get("ID")
    expression = "/samlp:Response/saml:Assertion[@ID=$tagid]"
    ours = compiled_xml.query(document, expression, tagid=assertion_id)
    assert [node.get("ID") for node in ours] == [assertion_id]
    assert ours == compiled_xml.LIBRARY_QUERY(document, expression, tagid=assertion_id)
    assert compiled_xml.query(document, expression, tagid="someone-else") == []
