"""The directory read API: users, groups and members for an API key's organization."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.events.snapshots import user_snapshot

pytestmark = pytest.mark.django_db


def test_users_are_listed_as_the_event_snapshots(api, organization, make_user):
    ann = make_user(organization, "ann@acme.example")
    body = api.get("/users").json()
    assert body == {"data": [user_snapshot(ann)], "next_cursor": None, "has_more": False}


def test_user_pages_walk_every_user_once(api, organization, make_user):
    users = [make_user(organization) for _ in range(7)]
    seen, after = [], None
    while True:
        body = api.get("/users", limit=3, **({"after": after} if after else {})).json()
        seen += [user["id"] for user in body["data"]]
        if not body["has_more"]:
            break
        after = body["next_cursor"]
    assert seen == [str(user.pk) for user in users]


def test_user_detail_and_group_detail(api, organization, make_user, make_group):
    ann = make_user(organization, "ann@acme.example")
    group = make_group(organization, "Finance", external_id="g-1")
    assert api.get(f"/users/{ann.pk}").json()["username"] == "ann@acme.example"
    assert api.get(f"/groups/{group.pk}").json() == {
        "id": str(group.pk),
        "display_name": "Finance",
        "external_id": "g-1",
        "version": 1,
        "created_at": group.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": group.updated_at.isoformat().replace("+00:00", "Z"),
    }


def test_group_members_carry_the_user_fields(api, organization, make_user, make_group):
    ann, bob = make_user(organization), make_user(organization)
    group = make_group(organization, members=[ann, bob])
    body = api.get(f"/groups/{group.pk}/members").json()
    assert [member["id"] for member in body["data"]] == [str(ann.pk), str(bob.pk)]
    assert {key: body["data"][0][key] for key in user_snapshot(ann)} == user_snapshot(ann)


def test_groups_list_pages(api, organization, make_group):
    groups = [make_group(organization) for _ in range(3)]
    first = api.get("/groups", limit=2).json()
    rest = api.get("/groups", limit=2, after=first["next_cursor"]).json()
    assert [g["id"] for g in first["data"] + rest["data"]] == [str(g.pk) for g in groups]
    assert (first["has_more"], rest["has_more"], rest["next_cursor"]) == (True, False, None)


def test_a_made_up_cursor_is_a_400(api):
    response = api.get("/users", after="made-up")
    assert response.status_code == 400
    assert "malformed" in response.json()["after"]


def test_member_pages_cost_the_same_queries_whatever_their_size(
    api, organization, make_user, make_group
):
    group = make_group(organization, members=[make_user(organization) for _ in range(30)])
    api.get("/users")  # records the key's use, a write made once a minute
    counts = []
    for limit in (5, 30):
        with CaptureQueriesContext(connection) as queries:
            assert api.get(f"/groups/{group.pk}/members", limit=limit).status_code == 200
        counts.append(len(queries))
    # The key, the group, one page of memberships with their users.
    assert counts == [3, 3]


def test_me_keeps_its_session_answer(client, organization, make_user):
    member = make_user(organization, "jane@acme.example", given_name="Jane")
    client.force_login(member, backend="accounts.backends.ConsoleEmailBackend")
    assert client.get("/api/v1/me").json() == {
        "userName": "jane@acme.example",
        "email": "jane@acme.example",
        "displayName": "Jane",
        "organization": {"slug": "acme", "name": "Acme Inc."},
        "groups": [],
    }
