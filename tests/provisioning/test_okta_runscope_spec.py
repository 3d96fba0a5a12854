"""Okta's public "Okta SCIM 2.0 SPEC Test" (the Runscope/BlazeMeter suite), one test per step.

Okta asks for at least one user on the server before the suite runs; the initial script
draws a random user and uses a fixed id that must not exist.
"""

import time
import uuid
from urllib.parse import urlencode

import pytest

from accounts.models import User
from tests.provisioning.idp_payloads import (
    ERROR_SCHEMA,
    LIST_RESPONSE,
    USER_SCHEMA,
    assert_scim_content_type,
    assert_scim_error,
)

pytestmark = pytest.mark.django_db

# The suite's initial variables.
RANDOM_GIVEN_NAME = "Runscope300"
RANDOM_FAMILY_NAME = "Hfluaklab151"
RANDOM_USERNAME = "Runscope300Hfluaklab151@example.com"
RANDOM_EMAIL = "Runscope300Hfluaklab151@example.com"
INVALID_USER_EMAIL = "abcdefgh@example.com"
USER_ID_THAT_DOES_NOT_EXIST = "010101001010101011001010101011"


@pytest.fixture
def existing_user(organization, make_user):
    return make_user(
        organization,
        "jane.doe@example.com",
        given_name="Jane",
        family_name="Doe",
        email="jane.doe@example.com",
    )


def user_name_filter(user_name):
    return "/Users?" + urlencode({"filter": f'userName eq "{user_name}"'})


def create_body():
    return {
        "schemas": [USER_SCHEMA],
        "userName": RANDOM_USERNAME,
        "name": {"givenName": RANDOM_GIVEN_NAME, "familyName": RANDOM_FAMILY_NAME},
        "emails": [{"primary": True, "value": RANDOM_EMAIL, "type": "work"}],
        "displayName": f"{RANDOM_GIVEN_NAME} {RANDOM_FAMILY_NAME}",
        "active": True,
    }


def assert_has_user_fields(entity):
    assert entity["id"]
    assert entity["name"]["familyName"]
    assert entity["name"]["givenName"]
    assert entity["userName"]
    assert entity["active"] is True
    assert entity["emails"][0]["value"]


def test_spec_users_endpoint_lists_the_first_user(scim, existing_user):
    response = scim.get("/Users?count=1&startIndex=1")

    assert response.status_code == 200
    assert_scim_content_type(response)
    body = response.json()
    assert body["Resources"]
    assert LIST_RESPONSE in body["schemas"]
    for key in ("itemsPerPage", "startIndex", "totalResults"):
        assert type(body[key]) is int
    assert len(body["Resources"]) == 1
    assert_has_user_fields(body["Resources"][0])


def test_spec_get_user_by_the_id_from_the_list(scim, existing_user):
    listed = scim.get("/Users?count=1&startIndex=1").json()["Resources"][0]

    response = scim.get(f"/Users/{listed['id']}")

    assert response.status_code == 200
    entity = response.json()
    assert_has_user_fields(entity)
    assert entity["id"] == listed["id"] == str(existing_user.id)


def test_spec_invalid_user_by_user_name_is_an_empty_list(scim, existing_user):
    response = scim.get(user_name_filter(INVALID_USER_EMAIL))

    assert response.status_code == 200
    body = response.json()
    assert LIST_RESPONSE in body["schemas"]
    assert body["totalResults"] == 0


def test_spec_invalid_user_by_id_is_404_with_an_error_body(scim, existing_user):
    body = assert_scim_error(scim.get(f"/Users/{USER_ID_THAT_DOES_NOT_EXIST}"), 404)

    assert body["detail"]
    assert ERROR_SCHEMA in body["schemas"]


def test_spec_random_user_does_not_exist(scim, existing_user):
    response = scim.get(user_name_filter(RANDOM_USERNAME))

    assert response.status_code == 200
    body = response.json()
    assert body["totalResults"] == 0
    assert type(body["totalResults"]) is int
    assert LIST_RESPONSE in body["schemas"]


def test_spec_create_user_with_realistic_values(scim, organization):
    response = scim.post("/Users", create_body())

    assert response.status_code == 201, response.content
    entity = response.json()
    assert entity["active"] is True
    assert entity["id"]
    assert entity["name"]["familyName"] == RANDOM_FAMILY_NAME
    assert entity["name"]["givenName"] == RANDOM_GIVEN_NAME
    assert USER_SCHEMA in entity["schemas"]
    assert entity["userName"] == RANDOM_USERNAME
    assert User.objects.filter(pk=entity["id"], organization=organization).exists()


def test_spec_verify_that_the_user_was_created(scim):
    created = scim.post("/Users", create_body()).json()

    response = scim.get(f"/Users/{created['id']}")

    assert response.status_code == 200
    entity = response.json()
    assert entity["userName"] == RANDOM_USERNAME
    assert entity["name"]["familyName"] == RANDOM_FAMILY_NAME
    assert entity["name"]["givenName"] == RANDOM_GIVEN_NAME


def test_spec_recreating_the_same_user_is_409(scim, organization):
    scim.post("/Users", create_body())

    body = assert_scim_error(scim.post("/Users", create_body()), 409, "uniqueness")

    assert body["detail"]
    assert User.objects.filter(organization=organization).count() == 1


def test_spec_user_name_case_sensitivity_check(scim):
    created = scim.post("/Users", create_body()).json()

    response = scim.get(user_name_filter(RANDOM_USERNAME.upper()))

    assert response.status_code == 200
    body = response.json()
    assert body["totalResults"] == 1
    assert body["Resources"][0]["id"] == created["id"]


def test_spec_groups_endpoint(scim, organization, make_group):
    make_group(organization, "Engineering")

    started = time.monotonic()
    response = scim.get("/Groups")
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert_scim_content_type(response)
    body = response.json()
    assert LIST_RESPONSE in body["schemas"]
    assert body["totalResults"] == 1
    # The suite's own budget for this request.
    assert elapsed <= 0.6


def test_spec_bad_token_is_401_with_status_401(client, scim_secret):
    response = client.get(
        "/scim/v2/Users?count=1&startIndex=1",
        headers={"Authorization": f"Bearer {scim_secret}x"},
    )

    body = assert_scim_error(response, 401)
    assert body["status"] == "401"
    assert response["WWW-Authenticate"] == 'Bearer realm="scim"'


def test_spec_second_invalid_user_id_is_404(scim, existing_user):
    assert_scim_error(scim.get(f"/Users/{uuid.uuid4()}"), 404)
