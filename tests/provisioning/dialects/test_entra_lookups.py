"""Microsoft Entra ID's lookups by externalId, quoted and not, against the real views.

Sources: Microsoft, "Tutorial: Develop and plan provisioning for a SCIM endpoint"
(https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups)
and "Known issues and resolutions with SCIM 2.0 protocol compliance"
(https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility):
Entra matches users and groups with `externalId eq`, and Microsoft's SCIM validator
sends unquoted values (`userName sw O`, `meta.created gt 2015-10-10T14:38:21.8617979-07:00`).
A lookup that answers 400 makes Entra create a duplicate (OctopusDeploy issue 9841,
langwatch issue 6973), so the bare token is read as the string it is.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.provisioning.idp_payloads import entra_create_group, entra_create_user, scim_error

pytestmark = pytest.mark.django_db

USER_EXTERNAL_ID = entra_create_user()["externalId"]
GROUP_EXTERNAL_ID = entra_create_group()["externalId"]


@pytest.fixture
def entra_user(scim):
    response = scim.post("/Users", entra_create_user())
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.fixture
def entra_group(scim):
    response = scim.post("/Groups", entra_create_group())
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.mark.parametrize(
    "query",
    [
        f'externalId eq "{USER_EXTERNAL_ID}"',
        f"externalId eq {USER_EXTERNAL_ID}",
        f"EXTERNALID EQ {USER_EXTERNAL_ID}",
        f"(externalId eq {USER_EXTERNAL_ID})",
        f'externalId eq {USER_EXTERNAL_ID} and userName sw "Test_User"',
    ],
)
def test_entra_external_id_lookup_quoted_and_unquoted(lookup, entra_user, query):
    assert lookup("/Users", query) == [entra_user]


@pytest.mark.parametrize(
    "query",
    [f'externalId eq "{GROUP_EXTERNAL_ID}"', f"externalId eq {GROUP_EXTERNAL_ID}"],
)
def test_entra_group_external_id_lookup_quoted_and_unquoted(lookup, entra_group, query):
    assert lookup("/Groups", query) == [entra_group]


def test_entra_external_id_is_case_exact(lookup, entra_user):
    assert lookup("/Users", f"externalId eq {USER_EXTERNAL_ID.upper()}") == []


def test_entra_unknown_external_id_finds_nobody(lookup, entra_user):
    assert lookup("/Users", "externalId eq 00000000-0000-0000-0000-000000000000") == []


def test_microsoft_validator_unquoted_values(lookup, entra_user):
    past = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.1234567-07:00")
    assert lookup("/Users", "userName sw Test_User") == [entra_user]
    assert lookup("/Users", "name.familyName eq familyName and (active eq true)") == [entra_user]
    assert lookup("/Users", f"meta.created gt {past}") == [entra_user]


@pytest.mark.parametrize(
    "query",
    [
        "name.familyName eq Van Dyke",  # two tokens: ambiguous
        "userName eq and",  # a keyword
        "meta.created gt yesterday",  # not a date
        'userName eq a"b',
    ],
)
def test_ambiguous_bare_values_are_invalid_filter(scim, entra_user, query):
    scim_error(scim.get("/Users", filter=query), 400, "invalidFilter")
