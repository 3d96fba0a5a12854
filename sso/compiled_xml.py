"""python3-saml's XML work with each schema and XPath expression compiled once.

On every call `OneLogin_Saml2_XML.validate_xml` reads and compiles its XSD (the SAML
protocol schema imports the assertion, xmldsig and xenc schemas), about 3.5 ms of
each ACS request, and `OneLogin_Saml2_XML.query` compiles its XPath expression (some
fifty per Response). The replacements keep the library's contract exactly: the same
schema files, the same `to_etree` parsing with DTDs and entities forbidden, the same
'unloaded_xml' / 'invalid_xml' / document results, the same expressions, namespaces
and `$tagid` variable. Only the compiled objects are kept, per thread (lxml keeps an
error log on each validator and evaluator).
"""

import threading
from os.path import dirname, join

from lxml import etree
from onelogin.saml2 import xml_utils
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

_SCHEMA_DIR = join(dirname(xml_utils.__file__), "schemas")
# The library's expressions are a fixed set; the bound only guards against growth.
_XPATH_MAX = 512
_compiled = threading.local()
# The library's own functions, as replaced by install().
LIBRARY_VALIDATE_XML = OneLogin_Saml2_XML.__dict__["validate_xml"].__func__
LIBRARY_QUERY = OneLogin_Saml2_XML.__dict__["query"].__func__


def compiled_schema(name: str) -> etree.XMLSchema:
    """The library's schema `name` (a file in its schemas directory), compiled once."""
    schemas = _compiled.__dict__.setdefault("schemas", {})
    if name not in schemas:
        with open(join(_SCHEMA_DIR, name)) as schema_file:
            schemas[name] = OneLogin_Saml2_XML._schema_class(etree.parse(schema_file))
    return schemas[name]


def compiled_xpath(query: str) -> etree.XPath:
    expressions = _compiled.__dict__.setdefault("xpaths", {})
    if query not in expressions:
        if len(expressions) >= _XPATH_MAX:
            expressions.clear()
        expressions[query] = etree.XPath(query, namespaces=OneLogin_Saml2_Constants.NSMAP)
    return expressions[query]


def validate_xml(xml, schema, debug=False):
    """OneLogin_Saml2_XML.validate_xml, with the compiled schema reused."""
    if not isinstance(schema, str):
        raise TypeError("schema is the name of one of python3-saml's schema files")
    try:
        xml = OneLogin_Saml2_XML.to_etree(xml)
    except Exception:  # the library answers any parse failure this way
        return "unloaded_xml"
    if not compiled_schema(schema).validate(xml):
        return "invalid_xml"
    return xml


def query(dom, query, context=None, tagid=None):
    """OneLogin_Saml2_XML.query, with the compiled expression reused."""
    source = dom if context is None else context
    if tagid is None:
        return compiled_xpath(query)(source)
    return compiled_xpath(query)(source, tagid=tagid)


def install() -> None:
    """Make python3-saml (Response, LogoutRequest/Response, metadata) use the above."""
    OneLogin_Saml2_XML.validate_xml = staticmethod(validate_xml)
    OneLogin_Saml2_XML.query = staticmethod(query)
