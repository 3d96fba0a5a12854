"""PingFederate's SCIM Provisioner (and PingOne's SCIM provisioning), replayed against the
real views.

Sources:
- "SCIM provisioner settings reference"
  (https://docs.pingidentity.com/integrations/scim/setup/pf_scim_connector_scim_connector_settings_reference.html):
  Unique User Identifier `userName` sets the filter `userName eq <userName_value>`,
  `workEmail` sets `emails eq <workEmail_value>`; Remove User Action disable or delete.
- "User and group management"
  (https://docs.pingidentity.com/integrations/scim/pf_scim_connector_user_and_group_management.html)
  and "SCIM Provisioner" (https://docs.pingidentity.com/integrations/scim/pf_scim_connector.html):
  users are never PATCHed (updates and disabling are PUTs), groups are created, renamed,
  have their membership updated and are deleted.
- RFC 7644 §3.4.2.2: attribute names and operators are case-insensitive (`username Eq`).
"""

import pytest

from accounts.models import User
from tests.provisioning.dialects.conftest import member_ids
from tests.provisioning.idp_payloads import GROUP_SCHEMA, USER_SCHEMA

pytestmark = pytest.mark.django_db


def ping_user(*, active=True, title="Analyst"):
    return {
        "schemas": [USER_SCHEMA],
        "userName": "jsmith",
        "name": {"givenName": "Janet", "familyName": "Smith"},
        "emails": [
            {"value": "janet.smith@home.example", "type": "home", "primary": True},
            {"value": "Janet.Smith@Acme.example", "type": "work"},
        ],
        "title": title,
        "active": active,
    }


@pytest.fixture
def janet(scim):
    response = scim.post("/Users", ping_user())
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.mark.parametrize(
    "query",
    [
        'username Eq "jsmith"',
        'USERNAME EQ "JSMITH"',
        "userName eq jsmith",  # the documented filter, without quotes
    ],
)
def test_pingfederate_user_name_lookup_any_case(lookup, janet, query):
    assert lookup("/Users", query) == [janet]


@pytest.mark.parametrize(
    "query",
    [
        'emails eq "janet.smith@acme.example"',  # workEmail: not the sign-in address
        "emails eq Janet.Smith@ACME.example",
        'emails.value eq "JANET.SMITH@HOME.EXAMPLE"',
    ],
)
def test_pingfederate_work_email_lookup_matches_any_email(lookup, janet, query):
    assert lookup("/Users", query) == [janet]


def test_pingfederate_work_email_lookup_of_an_unknown_address_finds_nobody(lookup, janet):
    assert lookup("/Users", 'emails eq "janet.smith@acme.example.org"') == []


def test_pingfederate_updates_by_put(scim, read_back, janet):
    response = scim.put(f"/Users/{janet}", ping_user(title="Director"))

    assert response.status_code == 200, response.content
    assert read_back(f"/Users/{janet}")["title"] == "Director"


def test_pingfederate_remove_action_disable_is_a_put_with_active_false(scim, read_back, janet):
    response = scim.put(f"/Users/{janet}", ping_user(active=False))

    assert response.status_code == 200, response.content
    assert read_back(f"/Users/{janet}")["active"] is False
    assert User.objects.get(pk=janet).is_active is False


def test_pingfederate_remove_action_delete(scim, janet):
    assert scim.delete(f"/Users/{janet}").status_code == 204
    assert scim.get(f"/Users/{janet}").status_code == 404


def test_pingfederate_group_membership_overwrite_by_put(scim, read_back, janet, make_user):
    other = make_user(User.objects.get(pk=janet).organization, "other@acme.example")
    response = scim.post(
        "/Groups",
        {"schemas": [GROUP_SCHEMA], "displayName": "Finance", "members": [{"value": janet}]},
    )
    assert response.status_code == 201, response.content
    group_id = response.json()["id"]

    response = scim.put(
        f"/Groups/{group_id}",
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": "Finance EU",
            "members": [{"value": str(other.pk)}],
        },
    )

    assert response.status_code == 200, response.content
    group = read_back(f"/Groups/{group_id}")
    assert (group["displayName"], member_ids(group)) == ("Finance EU", {str(other.pk)})
    assert read_back(f"/Users/{janet}")["groups"] == []
