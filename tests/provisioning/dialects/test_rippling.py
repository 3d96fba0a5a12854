"""Rippling's custom SCIM app, replayed against the real views.

Rippling's own documentation is not public; these follow the setup guides that
directory services publish for it:
- WorkOS, "Rippling SCIM" (https://workos.com/docs/integrations/rippling-scim): SCIM 2.0,
  bearer token, the admin ticks groups, pagination, delete groups and PATCH groups, and
  lists the supported SCIM attributes (externalId, emails.primary, name.givenName,
  name.familyName).
- Kombo, "Rippling SCIM" (https://help.kombo.dev/hc/en-us/articles/35612530773521-Rippling-SCIM-How-do-I-link-my-account):
  the same capabilities, "Mutually Exclusive Groups", and employeeNumber.
Roster publishes the list an admin types in docs/rippling.md; the test below keeps that
list and the attribute table in step.
"""

import re
from pathlib import Path

import pytest

from provisioning import attributes as table
from tests.provisioning.dialects.conftest import member_ids
from tests.provisioning.idp_payloads import (
    ENTERPRISE_SCHEMA,
    GROUP_SCHEMA,
    PATCH_OP,
    USER_SCHEMA,
    assert_list_response,
)

pytestmark = pytest.mark.django_db

DOC = Path(__file__).resolve().parents[3] / "docs" / "rippling.md"


def rippling_user(i):
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "externalId": f"rippling-{i}",
        "userName": f"employee{i}@acme.example",
        "name": {"givenName": "Employee", "familyName": f"Number {i}"},
        "emails": [{"value": f"employee{i}@acme.example", "primary": True}],
        "active": True,
        ENTERPRISE_SCHEMA: {"employeeNumber": f"E{i:03d}"},
    }


def test_rippling_published_attributes_are_all_supported():
    listed = re.findall(r"^- `([^`]+)`", DOC.read_text(), flags=re.MULTILINE)
    assert listed, "docs/rippling.md lists the supported SCIM attributes"
    for path in listed:
        name, _, sub = path.partition(".")
        schema = (
            table.CORE_USER
            if table.lookup(table.USER, table.CORE_USER, name)
            else (table.ENTERPRISE_USER)
        )
        attribute = table.lookup(table.USER, schema, name, sub or None)
        assert attribute is not None and attribute.writable, path


def test_rippling_creates_then_pages_through_users(scim, read_back):
    ids = []
    for i in range(5):
        response = scim.post("/Users", rippling_user(i))
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])

    pages = [scim.get("/Users", startIndex=str(start), count="2").json() for start in (1, 3, 5)]

    assert_list_response(pages[0], total=5, start_index=1, items=2)
    assert_list_response(pages[2], total=5, start_index=5, items=1)
    assert [u["id"] for page in pages for u in page["Resources"]] == ids
    user = read_back(f"/Users/{ids[3]}")
    assert (user["externalId"], user[ENTERPRISE_SCHEMA]["employeeNumber"]) == (
        "rippling-3",
        "E003",
    )
    assert user["emails"] == [{"value": "employee3@acme.example", "primary": True}]


def test_rippling_groups_created_patched_and_deleted(scim, read_back):
    people = [scim.post("/Users", rippling_user(i)).json()["id"] for i in range(2)]
    response = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Sales"})
    assert response.status_code == 201, response.content
    group_id = response.json()["id"]

    for operation in (
        {"op": "add", "path": "members", "value": [{"value": p} for p in people]},
        {"op": "remove", "path": f'members[value eq "{people[0]}"]'},
    ):
        response = scim.patch(
            f"/Groups/{group_id}", {"schemas": [PATCH_OP], "Operations": [operation]}
        )
        assert response.status_code == 204, response.content
    assert member_ids(read_back(f"/Groups/{group_id}")) == {people[1]}

    assert scim.delete(f"/Groups/{group_id}").status_code == 204
    assert scim.get(f"/Groups/{group_id}").status_code == 404
    assert read_back(f"/Users/{people[1]}")["groups"] == []
