"""/Users: create, read, replace, delete, and the documented choices (password, DELETE)."""

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session

from accounts.models import AuditAction, AuditEvent, Membership, User
from accounts.sessions import session_keys_of
from tests.provisioning.idp_payloads import scim_error

pytestmark = pytest.mark.django_db

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def new_user(**extra):
    return {
        "schemas": [USER, ENTERPRISE],
        "userName": "Barbara.Jensen@Example.com",
        "externalId": "00u1",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
        "title": "Tour Guide",
        "locale": "en-US",
        "active": True,
        "password": "t1meMa$heen",
        ENTERPRISE: {
            "department": "Tours",
            "employeeNumber": "701984",
            "manager": {"value": "m-1"},
        },
        **extra,
    }


def test_create_returns_201_with_the_full_resource_and_location(scim, organization):
    response = scim.post("/Users", new_user())
    assert response.status_code == 201
    body = response.json()
    user = User.objects.get(organization=organization)
    location = f"{settings.PUBLIC_BASE_URL}/scim/v2/Users/{user.pk}"
    assert response["Location"] == location
    assert response["ETag"] == 'W/"1"'
    assert body == {
        "schemas": [USER, ENTERPRISE],
        "id": str(user.pk),
        "externalId": "00u1",
        "userName": "Barbara.Jensen@Example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "locale": "en-US",
        "active": True,
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
        "groups": [],
        ENTERPRISE: {
            "department": "Tours",
            "employeeNumber": "701984",
            "manager": {"value": "m-1"},
        },
        "meta": {
            "resourceType": "User",
            "created": user.created_at.isoformat(),
            "lastModified": user.updated_at.isoformat(),
            "location": location,
            "version": 'W/"1"',
        },
    }


def test_created_user_is_audited_with_the_token_as_actor(scim, organization):
    scim.post("/Users", new_user())
    event = AuditEvent.objects.get(action=AuditAction.USER_CREATED)
    assert event.actor_type == "token"
    assert event.actor_label.startswith("token " + scim.secret.split(".")[0])


def test_password_is_accepted_and_never_stored_or_returned(scim, organization):
    body = scim.post("/Users", new_user()).json()
    assert "password" not in body
    user = User.objects.get(organization=organization)
    assert not user.has_usable_password()
    assert "t1meMa$heen" not in str(AuditEvent.objects.values_list("changes", flat=True))


def test_username_case_is_kept_and_duplicates_in_any_case_are_409(scim):
    scim.post("/Users", new_user())
    response = scim.post("/Users", new_user(userName="barbara.jensen@example.COM"))
    scim_error(response, 409, "uniqueness")


def test_unknown_attributes_are_ignored(scim):
    response = scim.post("/Users", new_user(favouriteColour="blue", nickName="Babs"))
    assert response.status_code == 201
    assert "favouriteColour" not in response.json()


@pytest.mark.parametrize(
    "field, value",
    [
        ("userName", 42),
        ("userName", ""),
        ("active", "maybe"),
        ("name", "Barbara"),
        ("emails", "bjensen@example.com"),
        ("displayName", ["x"]),
        ("title", "x" * 300),
    ],
)
def test_invalid_types_are_400_invalid_value(scim, organization, field, value):
    scim_error(scim.post("/Users", new_user(**{field: value})), 400, "invalidValue")
    assert not User.objects.filter(organization=organization).exists()


def test_missing_username_is_400(scim):
    body = new_user()
    del body["userName"]
    scim_error(scim.post("/Users", body), 400, "invalidValue")


@pytest.mark.parametrize(
    "bad_id",
    ["010101001010101011001010101011", "not-a-uuid", "00000000-0000-0000-0000-000000000000"],
)
def test_unknown_or_malformed_ids_are_404(scim, bad_id):
    for response in (
        scim.get(f"/Users/{bad_id}"),
        scim.put(f"/Users/{bad_id}", new_user()),
        scim.patch(
            f"/Users/{bad_id}", {"Operations": [{"op": "replace", "path": "title", "value": "x"}]}
        ),
        scim.delete(f"/Users/{bad_id}"),
    ):
        scim_error(response, 404)


def test_another_organizations_user_is_404(scim, other_organization, make_user):
    foreign = make_user(other_organization, "x@globex.example")
    scim_error(scim.get(f"/Users/{foreign.pk}"), 404)
    scim_error(scim.delete(f"/Users/{foreign.pk}"), 404)
    assert User.objects.filter(pk=foreign.pk).exists()


def test_deactivated_user_stays_retrievable(scim, organization, make_user):
    user = make_user(organization, is_active=False)
    body = scim.get(f"/Users/{user.pk}").json()
    assert body["active"] is False


def test_get_lists_the_users_groups(scim, organization, make_user, make_group):
    user = make_user(organization)
    group = make_group(organization, "Engineering", members=[user])
    body = scim.get(f"/Users/{user.pk}").json()
    assert body["groups"] == [
        {
            "value": str(group.pk),
            "display": "Engineering",
            "$ref": f"{settings.PUBLIC_BASE_URL}/scim/v2/Groups/{group.pk}",
            "type": "direct",
        }
    ]


def test_put_replaces_and_clears_what_is_omitted(scim):
    created = scim.post("/Users", new_user()).json()
    replacement = {
        "schemas": [USER],
        "userName": "barbara.jensen@example.com",
        "name": {"givenName": "Barbara"},
        "active": True,
    }
    body = scim.put(f"/Users/{created['id']}", replacement).json()
    assert body["userName"] == "barbara.jensen@example.com"
    assert body["name"] == {"givenName": "Barbara", "formatted": "Barbara"}
    for cleared in ("externalId", "displayName", "title", "locale", "emails", ENTERPRISE):
        assert cleared not in body
    assert body["schemas"] == [USER]


def test_put_accepts_echoed_server_fields(scim):
    created = scim.post("/Users", new_user()).json()
    echoed = {**created, "password": "new-password", "title": "Senior Guide"}
    response = scim.put(f"/Users/{created['id']}", echoed)
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "Senior Guide"
    assert body["id"] == created["id"]
    assert body["meta"]["created"] == created["meta"]["created"]


def test_put_keeps_active_when_omitted(scim, organization, make_user):
    user = make_user(organization, "a@example.com", is_active=False)
    body = scim.put(f"/Users/{user.pk}", {"userName": "a@example.com"}).json()
    assert body["active"] is False


def test_put_changing_username_to_a_taken_one_is_409(scim, organization, make_user):
    make_user(organization, "taken@example.com")
    user = make_user(organization, "mine@example.com")
    scim_error(scim.put(f"/Users/{user.pk}", {"userName": "TAKEN@example.com"}), 409, "uniqueness")


def test_deactivation_ends_the_users_sessions(
    scim, organization, make_user, client, django_capture_on_commit_callbacks
):
    user = make_user(organization, "signed-in@example.com")
    client.force_login(user, backend="accounts.backends.ConsoleEmailBackend")
    keys = list(session_keys_of(user))
    assert Session.objects.filter(session_key__in=keys).exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = scim.patch(
            f"/Users/{user.pk}", {"Operations": [{"op": "replace", "value": {"active": False}}]}
        )
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert not Session.objects.filter(session_key__in=keys).exists()


def test_delete_removes_user_and_memberships_and_frees_the_username(
    scim, organization, make_user, make_group
):
    user = make_user(organization, "leaver@example.com")
    group = make_group(organization, members=[user])
    response = scim.delete(f"/Users/{user.pk}")
    assert response.status_code == 204
    assert response.content == b""
    scim_error(scim.get(f"/Users/{user.pk}"), 404)
    assert not Membership.objects.filter(group=group).exists()
    assert AuditEvent.objects.filter(
        action=AuditAction.USER_DELETED, target_id=str(user.pk)
    ).exists()
    assert scim.post("/Users", new_user(userName="leaver@example.com")).status_code == 201


def test_list_pages_are_stable_and_complete(scim, organization, make_user):
    ids = {str(make_user(organization).pk) for _ in range(7)}
    seen = []
    for start in (1, 4, 7):
        body = scim.get("/Users", startIndex=start, count=3).json()
        assert body["totalResults"] == 7
        assert body["startIndex"] == start
        seen += [r["id"] for r in body["Resources"]]
    assert sorted(seen) == sorted(ids) and len(seen) == 7


@pytest.mark.parametrize(
    "params, start, items",
    [
        ({"startIndex": 0, "count": 2}, 1, 2),
        ({"startIndex": -5, "count": 2}, 1, 2),
        ({"startIndex": 1, "count": -1}, 1, 0),
        ({"startIndex": 1, "count": 0}, 1, 0),
        ({"startIndex": 4}, 4, 0),
        ({"startIndex": 2, "count": 100000}, 2, 2),
    ],
)
def test_start_index_and_count_follow_rfc_7644(scim, organization, make_user, params, start, items):
    for _ in range(3):
        make_user(organization)
    body = scim.get("/Users", **params).json()
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (3, start, items)
    assert len(body["Resources"]) == items


@pytest.mark.parametrize("param", ["startIndex", "count"])
def test_non_integer_paging_is_400(scim, param):
    scim_error(scim.get("/Users", **{param: "ten"}), 400, "invalidValue")


def test_count_is_capped_at_the_maximum_page_size(scim, organization, make_user, settings):
    settings.SCIM_MAX_PAGE_SIZE = 100
    body = scim.get("/Users", count=5000).json()
    assert body["itemsPerPage"] == 0  # no users yet; the cap is checked below
    for _ in range(3):
        make_user(organization)
    settings.SCIM_MAX_PAGE_SIZE = 2
    assert scim.get("/Users", count=50).json()["itemsPerPage"] == 2


def test_sort_by_username_descending(scim, organization, make_user):
    for name in ("bravo", "Alpha", "charlie"):
        make_user(organization, name)
    body = scim.get("/Users", sortBy="userName", sortOrder="descending").json()
    assert [r["userName"] for r in body["Resources"]] == ["charlie", "bravo", "Alpha"]


def test_unknown_sort_attribute_is_400(scim):
    scim_error(scim.get("/Users", sortBy="shoeSize"), 400, "invalidValue")


def test_attributes_and_excluded_attributes(scim):
    created = scim.post("/Users", new_user()).json()
    path = f"/Users/{created['id']}"
    only = scim.get(path, attributes="userName,name.givenName").json()
    assert only == {
        "schemas": [USER, ENTERPRISE],
        "id": created["id"],
        "userName": "Barbara.Jensen@Example.com",
        "name": {"givenName": "Barbara"},
    }
    without = scim.get(
        path, excludedAttributes="groups,emails," + ENTERPRISE + ":department"
    ).json()
    assert "groups" not in without and "emails" not in without
    assert without[ENTERPRISE] == {
        "employeeNumber": "701984",
        "manager": created[ENTERPRISE]["manager"],
    }
    listed = scim.get("/Users", attributes="userName").json()["Resources"]
    assert listed == [
        {
            "schemas": [USER, ENTERPRISE],
            "id": created["id"],
            "userName": "Barbara.Jensen@Example.com",
        }
    ]


def test_search_endpoint_takes_its_parameters_from_the_body(scim, organization, make_user):
    make_user(organization, "one@example.com")
    make_user(organization, "two@example.com")
    response = scim.post(
        "/Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName sw "t"',
            "attributes": ["userName"],
            "startIndex": 1,
            "count": 10,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["totalResults"] == 1
    assert body["Resources"][0]["userName"] == "two@example.com"
    assert set(body["Resources"][0]) == {"schemas", "id", "userName"}


def test_search_with_a_wrong_schema_is_400(scim):
    scim_error(
        scim.post("/Users/.search", {"schemas": [USER], "filter": "userName pr"}),
        400,
        "invalidSyntax",
    )
