"""The pure modules: PATCH path parsing, value filters, and attribute projection."""

import pytest

from provisioning.errors import BadRequest
from provisioning.paths import Path, filter_type, parse_path, value_filter_matches
from provisioning.projection import parse_names, project

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def parsed(text):
    return parse_path(text, core_urn=CORE, known_urns=(ENTERPRISE,))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("userName", (None, "username", None, None)),
        ("name.givenName", (None, "name", None, "givenname")),
        ('emails[type eq "work"].value', (None, "emails", 'type eq "work"', "value")),
        (f"{CORE}:title", (None, "title", None, None)),
        (f"{CORE.upper()}:title", (None, "title", None, None)),
        (f"{ENTERPRISE}:manager.value", (ENTERPRISE.lower(), "manager", None, "value")),
        (ENTERPRISE.upper(), (ENTERPRISE.lower(), "", None, None)),
    ],
)
def test_paths_parse_in_any_case(text, expected):
    path = parsed(text)
    assert isinstance(path, Path)
    assert (path.urn, path.attr, path.value_filter, path.sub) == expected


@pytest.mark.parametrize("text", ["", "  ", "name..givenName", "emails[type eq", "a b", 42])
def test_malformed_paths_are_invalid_path(text):
    with pytest.raises(BadRequest) as raised:
        parsed(text)
    assert raised.value.scim_type == "invalidPath"


@pytest.mark.parametrize(
    "expression, item, expected",
    [
        ('type eq "work"', {"type": "Work", "value": "a"}, True),
        ('TYPE EQ "work"', {"Type": "work"}, True),
        ('type eq "home"', {"type": "work"}, False),
        ("primary eq true", {"primary": True}, True),
        ('value co "@x" and not (type eq "home")', {"value": "a@x.org", "type": "work"}, True),
        ("display pr", {"display": ""}, False),
    ],
)
def test_value_filters_match_one_value(expression, item, expected):
    assert value_filter_matches(expression, item) is expected


def test_filter_type_names_the_type_of_an_exact_type_filter_only():
    assert filter_type('type eq "work"') == "work"
    assert filter_type('type eq "work" and primary eq true') is None
    assert filter_type('value eq "work"') is None


def test_attribute_names_parse_with_urns_in_any_case():
    assert parse_names(f"userName, name.GivenName ,{ENTERPRISE.upper()}:department") == [
        (None, "username", None),
        (None, "name", "givenname"),
        (ENTERPRISE.lower(), "department", None),
    ]


@pytest.mark.parametrize(
    "raw", ['emails[type eq "work"]', "name..givenName", "emails.value.x", "user name", "-x"]
)
def test_invalid_attribute_notation_is_invalid_value(raw):
    with pytest.raises(BadRequest) as raised:
        parse_names(raw)
    assert raised.value.scim_type == "invalidValue"


def test_projection_keeps_always_returned_attributes_and_named_sub_attributes():
    resource = {
        "schemas": [CORE],
        "id": "1",
        "userName": "a",
        "emails": [{"value": "a@x.org", "type": "work"}],
        ENTERPRISE: {"department": "R&D", "division": "West"},
    }
    assert project(resource, f"EMAILS.VALUE,{ENTERPRISE}:department") == {
        "schemas": [CORE],
        "id": "1",
        "emails": [{"value": "a@x.org"}],
        ENTERPRISE: {"department": "R&D"},
    }
    assert project(resource, excluded="emails,id") == {
        "schemas": [CORE],
        "id": "1",
        "userName": "a",
        ENTERPRISE: {"department": "R&D", "division": "West"},
    }
