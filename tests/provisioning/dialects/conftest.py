"""What every vendor's replay reads back: the resource as a GET answers it."""

import pytest

from tests.provisioning.idp_payloads import LIST_RESPONSE


@pytest.fixture
def read_back(scim):
    """GET a resource (200 expected) and return its body."""

    def read(path):
        response = scim.get(path)
        assert response.status_code == 200, response.content
        return response.json()

    return read


@pytest.fixture
def lookup(scim):
    """The ids a list filter finds (a 200 ListResponse expected)."""

    def find(resource, query):
        response = scim.get(resource, filter=query)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["schemas"] == [LIST_RESPONSE]
        return [item["id"] for item in body["Resources"]]

    return find


def member_ids(group: dict) -> set[str]:
    return {member["value"] for member in group.get("members", [])}
