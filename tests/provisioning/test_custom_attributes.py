"""Custom attributes over SCIM: declared in the console, advertised in /Schemas and
/ResourceTypes, written in the organization's extension or the core namespace, checked
by type, filtered through their index, and in events and the read API."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.actors import Actor
from accounts.custom_attributes import RESERVED_NAMES
from accounts.events.models import DirectoryEvent, EventType
from accounts.models import AuditAction, AuditEvent, User
from accounts.services.custom_attributes import (
    custom_attribute_change,
    custom_attribute_declare,
    custom_attribute_delete,
)
from provisioning.attributes import USER_ATTRIBUTES
from provisioning.filters import UserFilterQuery
from provisioning.models import ScimRequest
from tests.provisioning.idp_payloads import scim_error

pytestmark = pytest.mark.django_db

URN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OWNER = Actor.system("tests")
DATE_DETAIL = "startsOn must be a date and time such as 2024-05-01T09:30:00Z."


@pytest.fixture
def declared(organization):
    def declare(name, type="string", **fields):
        return custom_attribute_declare(
            organization=organization, name=name, type=type, actor=OWNER, acting_user=None,
            **fields,
        )  # fmt: skip

    declare("badgeNumber", indexed=True, description="Door badge")
    declare("clearance", "integer", indexed=True)
    declare("remote", "boolean", indexed=True)
    declare("startsOn", "dateTime")
    declare("homepage", "reference")
    declare("sites", multi_valued=True, indexed=True)
    organization.refresh_from_db()
    return organization


def patch(*operations):
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def create(scim, username="ann@acme.example", **extra):
    body = {"schemas": [CORE, URN], "userName": username, **extra}
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_the_extension_is_advertised_in_schemas_and_resource_types(scim, declared):
    schema = scim.get(f"/Schemas/{URN}")
    assert schema.status_code == 200
    body = schema.json()
    assert (body["id"], body["name"]) == (URN, "Acme Inc. User")
    by_name = {a["name"]: a for a in body["attributes"]}
    assert list(by_name) == ["badgeNumber", "clearance", "remote", "startsOn", "homepage", "sites"]
    assert by_name["badgeNumber"] == {
        "name": "badgeNumber",
        "type": "string",
        "multiValued": False,
        "description": "Door badge",
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    }
    assert by_name["clearance"]["type"] == "integer"
    assert by_name["sites"]["multiValued"] is True
    assert by_name["homepage"]["referenceTypes"] == ["external"]
    assert URN in [s["id"] for s in scim.get("/Schemas").json()["Resources"]]
    user_type = scim.get("/ResourceTypes/User").json()
    assert {"schema": URN, "required": False} in user_type["schemaExtensions"]


def test_an_organization_without_declarations_advertises_no_extension(scim, organization):
    ids = [s["id"] for s in scim.get("/Schemas").json()["Resources"]]
    assert URN not in ids and len(ids) == 4
    scim_error(scim.get(f"/Schemas/{URN}"), 404)
    extensions = scim.get("/ResourceTypes/User").json()["schemaExtensions"]
    assert URN not in [e["schema"] for e in extensions]


def test_another_organizations_extension_is_not_ours(scim, declared, other_organization):
    custom_attribute_declare(
        organization=other_organization, name="shoeSize", type="integer", actor=OWNER,
        acting_user=None,
    )  # fmt: skip
    ids = [s["id"] for s in scim.get("/Schemas").json()["Resources"]]
    assert "urn:ietf:params:scim:schemas:extension:globex:2.0:User" not in ids


def test_values_in_the_extension_round_trip_in_canonical_form(scim, declared):
    created = create(
        scim,
        **{
            URN: {
                "badgeNumber": "B-7",
                "clearance": "3",
                "remote": "False",
                "startsOn": "2024-05-01T11:30:00+02:00",
                "homepage": "https://ann.example/",
                "sites": ["Berlin", "Paris", "Berlin"],
            }
        },
    )
    expected = {
        "badgeNumber": "B-7",
        "clearance": 3,
        "remote": False,
        "startsOn": "2024-05-01T09:30:00Z",
        "homepage": "https://ann.example/",
        "sites": ["Berlin", "Paris"],
    }
    assert created[URN] == expected
    assert created["schemas"] == [CORE, URN]
    fetched = scim.get(f"/Users/{created['id']}").json()
    assert fetched[URN] == expected
    stored = User.objects.get(pk=created["id"])
    assert stored.custom_attributes == expected
    assert stored.custom_search == [
        "badgenumber",
        "badgenumber=b-7",
        "clearance",
        "clearance=3",
        "remote",
        "remote=false",
        "sites",
        "sites=berlin",
        "sites=paris",
    ]


def test_okta_profile_editor_default_core_namespace_is_accepted(scim, declared):
    # Okta's Profile Editor puts a new attribute in the core namespace by default.
    created = create(scim, badgeNumber="B-1", clearance=2)
    assert created[URN] == {"badgeNumber": "B-1", "clearance": 2}
    assert "badgeNumber" not in created


def test_patch_add_replace_remove_with_extension_and_core_paths(scim, declared):
    user = create(scim, **{URN: {"badgeNumber": "B-1", "sites": ["Berlin"]}})
    url = f"/Users/{user['id']}"
    response = scim.patch(
        url,
        patch(
            {"op": "replace", "path": f"{URN}:badgeNumber", "value": "B-2"},
            {"op": "add", "path": "sites", "value": ["Paris", "Berlin"]},
            {"op": "add", "path": f"{URN}:clearance", "value": 5},
        ),
    )
    assert response.status_code == 200
    assert scim.get(url).json()[URN] == {
        "badgeNumber": "B-2",
        "clearance": 5,
        "sites": ["Berlin", "Paris"],
    }
    response = scim.patch(
        url,
        patch(
            {"op": "remove", "path": f"{URN}:sites", "value": ["Berlin"]},
            {"op": "remove", "path": "clearance"},
        ),
    )
    assert response.status_code == 200
    assert scim.get(url).json()[URN] == {"badgeNumber": "B-2", "sites": ["Paris"]}
    response = scim.patch(url, patch({"op": "replace", "value": {URN: {"remote": True}}}))
    assert response.status_code == 200
    # Replacing the whole extension object replaces every value in it.
    assert scim.get(url).json()[URN] == {"remote": True}


def test_put_replaces_custom_values_like_any_attribute(scim, declared):
    user = create(scim, **{URN: {"badgeNumber": "B-1", "clearance": 1}})
    url = f"/Users/{user['id']}"
    response = scim.put(url, {"schemas": [CORE], "userName": "ann@acme.example", "clearance": 2})
    assert response.status_code == 200
    assert scim.get(url).json()[URN] == {"clearance": 2}
    response = scim.put(url, {"schemas": [CORE], "userName": "ann@acme.example"})
    assert response.status_code == 200
    fetched = scim.get(url).json()
    assert URN not in fetched and fetched["schemas"] == [CORE]


@pytest.mark.parametrize(
    ("name", "value", "detail"),
    [
        ("clearance", "three", "clearance must be an integer."),
        ("clearance", 2**63, "clearance must be a 64-bit integer."),
        ("clearance", True, "clearance must be an integer."),
        ("remote", "maybe", "remote must be a boolean."),
        ("startsOn", "next week", DATE_DETAIL),
        ("startsOn", "2024-13-01T00:00:00Z", DATE_DETAIL),
        ("badgeNumber", 7, "badgeNumber must be a string."),
        ("badgeNumber", ["a"], "badgeNumber holds one value, not a list."),
        ("badgeNumber", "x" * 1025, "badgeNumber is longer than 1024 characters."),
        ("sites", [["nested"]], "sites holds a list of single values."),
        ("sites", ["s"] * 101, "sites holds at most 100 values."),
    ],
)  # fmt: skip
def test_a_value_of_the_wrong_type_is_invalid_value_naming_the_attribute(
    scim, declared, name, value, detail
):
    user = create(scim, **{URN: {"badgeNumber": "B-1"}})
    version = User.objects.get(pk=user["id"]).version
    response = scim.patch(
        f"/Users/{user['id']}", patch({"op": "replace", "path": f"{URN}:{name}", "value": value})
    )
    assert scim_error(response, 400, "invalidValue")["detail"] == detail
    stored = User.objects.get(pk=user["id"])
    assert (stored.version, stored.custom_attributes) == (version, {"badgeNumber": "B-1"})
    response = scim.post("/Users", {"userName": "bob@acme.example", URN: {name: value}})
    assert scim_error(response, 400, "invalidValue")["detail"] == detail
    assert not User.objects.filter(username="bob@acme.example").exists()


def test_a_custom_attribute_takes_no_sub_attribute_or_value_filter(scim, declared):
    user = create(scim)
    response = scim.patch(
        f"/Users/{user['id']}",
        patch({"op": "replace", "path": f"{URN}:badgeNumber.value", "value": "x"}),
    )
    scim_error(response, 400, "invalidPath")


def test_undeclared_attributes_are_ignored_and_named_in_the_request_log(scim, declared):
    user = create(
        scim,
        badgeNumber="B-1",
        favouriteColour="green",
        **{
            URN: {"shoeSize": 44},
            "urn:ietf:params:scim:schemas:extension:other:2.0:User": {"x": 1},
        },
    )
    assert user[URN] == {"badgeNumber": "B-1"}
    logged = ScimRequest.objects.get(method="POST")
    assert logged.status == 201
    assert logged.detail == (
        "Ignored, not declared: favouriteColour, "
        f"{URN}:shoeSize, urn:ietf:params:scim:schemas:extension:other:2.0:User"
    )
    response = scim.patch(
        f"/Users/{user['id']}", patch({"op": "add", "path": f"{URN}:shoeSize", "value": 44})
    )
    assert response.status_code == 200
    assert ScimRequest.objects.get(method="PATCH").detail == (
        f"Ignored, not declared: {URN}:shoeSize"
    )
    assert scim.get(f"/Users/{user['id']}").json()[URN] == {"badgeNumber": "B-1"}


def test_a_write_that_ignores_nothing_logs_no_detail(scim, declared):
    create(scim, badgeNumber="B-1")
    assert ScimRequest.objects.get(method="POST").detail == ""


def listed(scim, query):
    response = scim.get("/Users", filter=query)
    assert response.status_code == 200, response.content
    return sorted(r["userName"] for r in response.json()["Resources"])


def test_eq_ne_and_pr_on_indexed_attributes(scim, declared):
    ann = {"badgeNumber": "B-7", "clearance": 3, "sites": ["Berlin", "Paris"], "remote": True}
    create(scim, "ann@acme.example", **{URN: ann})
    create(scim, "bob@acme.example", **{URN: {"badgeNumber": "b-8", "clearance": 4}})
    create(scim, "cy@acme.example")
    assert listed(scim, 'badgeNumber eq "b-7"') == ["ann@acme.example"]
    assert listed(scim, f'{URN}:badgeNumber eq "B-8"') == ["bob@acme.example"]
    assert listed(scim, "clearance eq 4") == ["bob@acme.example"]
    assert listed(scim, 'sites eq "paris"') == ["ann@acme.example"]
    assert listed(scim, "remote eq true") == ["ann@acme.example"]
    assert listed(scim, "badgeNumber pr") == ["ann@acme.example", "bob@acme.example"]
    assert listed(scim, 'badgeNumber ne "B-7"') == ["bob@acme.example", "cy@acme.example"]
    assert listed(scim, 'sites pr and userName sw "a"') == ["ann@acme.example"]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ('homepage eq "https://x"', "homepage is not indexed"),
        ('badgeNumber co "7"', "badgeNumber takes eq, ne or pr."),
        ('clearance eq "high"', "clearance must be an integer."),
        (f'{URN}:shoeSize eq "1"', "No custom attribute 'shoeSize' is declared."),
    ],
)
def test_filters_a_custom_attribute_cannot_answer_are_invalid_filter(scim, declared, query, detail):
    body = scim_error(scim.get("/Users", filter=query), 400, "invalidFilter")
    assert detail in body["detail"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL query plans")
def test_custom_attribute_filters_use_the_gin_index(declared, rf):
    users = [
        User(
            organization=declared,
            username=f"u{i:05d}",
            username_key=f"u{i:05d}",
            custom_attributes={"badgeNumber": f"B-{i}"},
            custom_search=["badgenumber", f"badgenumber=b-{i}"],
        )
        for i in range(5000)
    ]
    User.objects.bulk_create(users)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_user")
    request = rf.get("/")
    request.scim_organization = declared
    matching = UserFilterQuery.search('badgeNumber eq "b-1234"', request)
    assert "user_custom_search_idx" in matching.explain()
    assert [user.username for user in matching] == ["u01234"]


def test_events_and_the_read_api_carry_the_values(scim, declared, system_actor):
    from accounts.services.integrations import api_key_create
    from tests.events.conftest import ApiClient

    user = create(scim, **{URN: {"badgeNumber": "B-7", "sites": ["Berlin"]}})
    scim.patch(f"/Users/{user['id']}", patch({"op": "replace", "path": "clearance", "value": 2}))
    events = DirectoryEvent.objects.filter(user_id=user["id"]).order_by("id")
    assert [e.type for e in events] == [EventType.USER_CREATED, EventType.USER_UPDATED]
    assert events[0].data["user"]["custom_attributes"] == {
        "badgeNumber": "B-7",
        "sites": ["Berlin"],
    }
    assert events[1].data["changes"] == ["custom_attributes"]
    assert events[1].data["user"]["custom_attributes"] == {
        "badgeNumber": "B-7",
        "clearance": 2,
        "sites": ["Berlin"],
    }
    api = ApiClient(api_key_create(organization=declared, label="API", actor=system_actor)[1])
    response = api.get(f"/users/{user['id']}")
    assert response.status_code == 200
    assert response.json()["custom_attributes"] == events[1].data["user"]["custom_attributes"]


def test_a_user_write_with_custom_attributes_costs_what_one_without_does(scim, declared):
    user = create(scim, **{URN: {"badgeNumber": "B-1"}})
    url = f"/Users/{user['id']}"
    scim.patch(url, patch({"op": "replace", "path": "displayName", "value": "warm"}))

    def cost(operation):
        with CaptureQueriesContext(connection) as context:
            response = scim.patch(url, patch(operation))
        assert response.status_code == 200
        return len(context.captured_queries)

    plain = cost({"op": "replace", "path": "displayName", "value": "Ann"})
    custom = cost({"op": "replace", "value": {URN: {"badgeNumber": "B-2", "clearance": 3}}})
    assert custom == plain
    # Discovery reads no declarations from the database once they are parsed.
    with CaptureQueriesContext(connection) as context:
        assert scim.get("/Schemas").status_code == 200
    assert not [q for q in context.captured_queries if "accounts_customattribute" in q["sql"]]


def test_deleting_a_declaration_purges_its_values(scim, declared):
    user = create(scim, **{URN: {"badgeNumber": "B-7", "clearance": 3}})
    version = User.objects.get(pk=user["id"]).version
    attribute = declared.custom_attributes.get(name="badgeNumber")
    assert custom_attribute_delete(attribute=attribute, actor=OWNER, acting_user=None) == 1
    stored = User.objects.get(pk=user["id"])
    assert stored.custom_attributes == {"clearance": 3}
    assert stored.custom_search == ["clearance", "clearance=3"]
    assert stored.version == version + 1
    declared.refresh_from_db()
    assert scim.get(f"/Users/{user['id']}").json()[URN] == {"clearance": 3}
    audit = AuditEvent.objects.get(action=AuditAction.CUSTOM_ATTRIBUTE_DELETED)
    assert audit.changes["values_purged"] == 1
    # A new declaration of the name starts empty, and the filter finds nobody.
    custom_attribute_declare(
        organization=declared, name="badgeNumber", type="string", indexed=True, actor=OWNER,
        acting_user=None,
    )  # fmt: skip
    assert listed(scim, "badgeNumber pr") == []


def test_turning_indexing_on_indexes_the_values_already_stored(scim, declared):
    create(scim, **{URN: {"homepage": "https://ann.example/"}})
    attribute = declared.custom_attributes.get(name="homepage")
    custom_attribute_change(
        attribute=attribute, actor=OWNER, acting_user=None, description="", indexed=True
    )
    assert listed(scim, 'homepage eq "https://ann.example/"') == ["ann@acme.example"]
    # A reference is compared as sent (caseExact).
    assert listed(scim, 'homepage eq "HTTPS://ANN.EXAMPLE/"') == []


def test_reserved_names_are_the_user_schemas_top_level_names():
    top_level = {a.name.lower() for a in USER_ATTRIBUTES if a.sub is None}
    assert top_level | {"schemas"} == RESERVED_NAMES


def test_a_rolled_back_change_never_lends_its_version_to_another(organization):
    """The declarations are cached per (organization, version): a version seen inside a
    change that rolled back is never the version of later, different declarations."""
    from django.db import transaction

    from accounts.custom_attributes import declared_attributes
    from accounts.services.custom_attributes import custom_attribute_declare

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        custom_attribute_declare(
            organization=organization, name="badgeNumber", type="string", actor=OWNER,
            acting_user=None,
        )  # fmt: skip
        assert [d.name for d in declared_attributes(organization)] == ["badgeNumber"]
        rolled_back = organization.custom_attributes_version
        raise Undo
    organization.refresh_from_db()
    custom_attribute_declare(
        organization=organization, name="deskCode", type="string", actor=OWNER, acting_user=None
    )
    assert organization.custom_attributes_version != rolled_back
    assert [d.name for d in declared_attributes(organization)] == ["deskCode"]
