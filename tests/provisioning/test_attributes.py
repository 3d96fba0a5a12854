"""The attribute table itself: complete, consistent, and backed by the database's indexes."""

import copy
import importlib
import inspect
import re
from pathlib import Path

import pytest
from django_scim.schemas import default_schemas_getter

from accounts.models import Group, User
from provisioning import attributes as table
from provisioning.attributes import (
    COLUMN,
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE_USER,
    GROUP,
    ROSTER_USER,
    USER,
    Attribute,
)
from provisioning.schemas import SCHEMAS

MODELS = {USER: User, GROUP: Group}
ROOT = Path(__file__).resolve().parents[2]


def _index_leads(model) -> list:
    """The first expression or field of every index and unique constraint of `model`."""
    leads = []
    for index in [*model._meta.indexes, *model._meta.constraints]:
        expressions = list(getattr(index, "expressions", ()))
        fields = [f for f in getattr(index, "fields", ()) if f != "organization"]
        leads += expressions[:1] + fields[:1]
    return leads


def _indexed(attribute: Attribute) -> bool:
    model = MODELS[attribute.resource]
    if attribute.filter == table.VALUES_FILTER:
        # Every value of a list in `profile`: a GIN index on roster_scim_values(...) made by
        # a provisioning migration (test_filters checks the query plan).
        phones = importlib.import_module("provisioning.migrations.0004_scim_values_index")
        others = importlib.import_module("provisioning.migrations.0006_multi_valued_indexes")
        return (
            f"(profile -> '{attribute.name}')" in inspect.getsource(phones.create_index)
            or attribute.name in others.ATTRIBUTES
        )
    if attribute.query == "id":
        return True  # the primary key
    if attribute.query == "memberships":
        # members[value eq "<user id>"]: membership_user_group_idx on (user, group).
        return "membership_user_group_idx" in {i.name for i in Group.members.through._meta.indexes}
    for lead in _index_leads(model):
        if attribute.folded_key and lead == attribute.folded_key:
            return True
        if lead == attribute.query or lead == attribute.expression():
            return True
        if lead == attribute.column() and not attribute.case_ignored:
            return True
    return False


@pytest.mark.parametrize(
    "attribute",
    [*table.filterable(USER), *table.filterable(GROUP)],
    ids=lambda a: f"{a.resource}:{a.path}",
)
def test_every_filterable_attribute_has_an_index_on_its_expression(attribute):
    assert _indexed(attribute), f"no index serves a filter on {attribute.path}"


def test_rows_are_unique_by_resource_schema_and_name():
    for rows in table.TABLES.values():
        keys = [a.key for a in rows]
        assert len(keys) == len(set(keys))


def test_every_sub_attribute_has_its_parent():
    for rows in table.TABLES.values():
        parents = {(a.schema, a.name) for a in rows if a.sub is None}
        assert all((a.schema, a.name) in parents for a in rows if a.sub is not None)


def test_lookup_ignores_case_and_takes_the_urn_in_any_case():
    row = table.lookup(USER, CORE_USER.upper(), "EMAILS", "VALUE")
    assert (row.name, row.sub) == ("emails", "value")
    assert table.known_schema(USER, ENTERPRISE_USER.upper()) == ENTERPRISE_USER
    assert table.known_schema(USER, None) == CORE_USER
    assert table.known_schema(GROUP, ENTERPRISE_USER) is None


@pytest.mark.parametrize("resource", [USER, GROUP])
def test_every_column_the_table_names_is_a_model_field(resource):
    names = {f.name for f in MODELS[resource]._meta.get_fields()}
    for attribute in table.TABLES[resource]:
        if attribute.stored == COLUMN:
            assert attribute.field in names, attribute.path


def test_every_text_kept_in_json_is_bounded():
    for attribute in table.USER_ATTRIBUTES:
        stored_in_json = attribute.stored in (table.PROFILE, table.ENTERPRISE)
        if stored_in_json and attribute.type in (table.STRING, table.REFERENCE, table.BINARY):
            assert attribute.max_length, attribute.path


def test_the_whole_core_user_schema_of_rfc_7643_is_in_the_table():
    rfc = next(s for s in default_schemas_getter() if s["id"] == CORE_USER)
    for attribute in rfc["attributes"]:
        assert table.lookup(USER, CORE_USER, attribute["name"]), attribute["name"]
        for sub in attribute.get("subAttributes", []):
            assert table.lookup(USER, CORE_USER, attribute["name"], sub["name"]), sub["name"]


@pytest.mark.parametrize(
    "resource, schema",
    [(USER, CORE_USER), (USER, ENTERPRISE_USER), (USER, ROSTER_USER), (GROUP, CORE_GROUP)],
)
def test_schemas_document_lists_exactly_the_table(resource, schema):
    listed = {
        (a["name"], s["name"] if s else None)
        for a in SCHEMAS[schema]["attributes"]
        for s in [None, *a.get("subAttributes", [])]
    }
    rows = {(a.name, a.sub) for a in table.TABLES[resource] if a.schema == schema and not a.common}
    assert listed == rows


def test_sort_expressions_are_those_of_the_table():
    sorts = table.sort_expressions(USER)
    assert sorts["username"] == table.lookup(USER, CORE_USER, "userName").expression()
    assert sorts["emails"] == sorts["emails.value"]
    assert "password" not in sorts


# -- the documented mapping --------------------------------------------------------

DOC = ROOT / "docs" / "scim.md"


def test_the_documented_attribute_table_is_the_table():
    text = DOC.read_text()
    assert table.DOC_START in text and table.DOC_END in text
    assert table.with_table(text) == text, (
        "docs/scim.md's attribute table is out of date: run `python -m provisioning.attributes`"
    )


def test_the_documented_table_has_one_row_per_attribute():
    section = DOC.read_text().split(table.DOC_START, 1)[1].split(table.DOC_END, 1)[0]
    documented = set(re.findall(r"^\| [^|]+ \| `([^`]+)` \|", section, flags=re.M))
    rows = {a.path for rows in table.TABLES.values() for a in rows}
    assert documented == rows


def test_copying_a_document_copies_its_values_and_shares_the_table_entries():
    attribute = Attribute(USER, CORE_USER, "emails", multi_valued=True)
    document = {attribute: [{"value": "ada@example.com"}]}
    copied = copy.deepcopy(document)
    (key,) = copied
    assert key is attribute
    copied[key][0]["value"] = "grace@example.com"
    assert document[attribute] == [{"value": "ada@example.com"}]
