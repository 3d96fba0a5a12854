"""Cursor paging (RFC 9865): every user once, cursors that only this list can use."""

import pytest
from django.core.signing import TimestampSigner
from django.db import connection

from accounts.services.users import user_delete
from provisioning import paging
from tests.provisioning.test_query_budgets import bulk_users

pytestmark = pytest.mark.django_db

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def walk(scim, *, count=7, between=None, **params):
    """(ids in the order served, pages) from the first page to the one without nextCursor."""
    seen, pages, cursor = [], 0, ""
    while True:
        response = scim.get("/Users", cursor=cursor, count=count, **params)
        assert response.status_code == 200
        body = response.json()
        pages += 1
        seen += [resource["id"] for resource in body["Resources"]]
        if "nextCursor" not in body:
            return seen, pages
        cursor = body["nextCursor"]
        if between:
            between(pages)


def test_a_cursor_walk_serves_every_user_once_in_creation_order(scim, organization):
    users = bulk_users(organization, 50)
    seen, pages = walk(scim)
    assert seen == [str(u.pk) for u in users]
    assert pages == 8  # seven full pages, then one of one user with no nextCursor


def test_a_cursor_page_is_a_list_response_without_start_index(scim, organization):
    users = bulk_users(organization, 3)
    body = scim.get("/Users", cursor="", count=2, attributes="userName").json()
    assert set(body) == {"schemas", "totalResults", "itemsPerPage", "Resources", "nextCursor"}
    assert (body["schemas"], body["totalResults"], body["itemsPerPage"]) == ([LIST_RESPONSE], 3, 2)
    last = scim.get("/Users", cursor=body["nextCursor"], count=2, attributes="userName").json()
    assert last == {
        "schemas": [LIST_RESPONSE],
        "totalResults": 3,
        "itemsPerPage": 1,
        "Resources": [
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": str(users[2].pk),
                "userName": users[2].username,
            }
        ],
    }


def test_an_empty_list_is_one_page_without_next_cursor(scim, organization):
    body = scim.get("/Users", cursor="").json()
    assert (body["totalResults"], body["Resources"], "nextCursor" in body) == (0, [], False)


def test_users_created_and_deleted_while_paging(scim, organization, make_user, system_actor):
    """Every user present from the first page to the last is served exactly once; one
    created meanwhile comes last, one deleted before its page is not served."""
    users = bulk_users(organization, 30)
    created = []

    def change(pages):
        if pages == 1:
            user_delete(user=users[20], actor=system_actor)
            user_delete(user=users[3], actor=system_actor)  # already served
            created.append(make_user(organization, "late@example.com"))

    seen, _ = walk(scim, count=10, between=change)
    assert seen == [str(u.pk) for u in users[:10]] + [
        str(u.pk) for i, u in enumerate(users[10:], start=10) if i != 20
    ] + [str(created[0].pk)]
    assert len(seen) == len(set(seen))


def test_a_filtered_walk_keeps_its_filter(scim, organization):
    bulk_users(organization, 30)
    seen, _ = walk(scim, count=4, filter='userName sw "u1"')
    assert len(seen) == 11  # u1, u10..u19


def test_search_takes_a_cursor_in_its_body(scim, organization):
    users = bulk_users(organization, 3)
    search = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
    first = scim.post("/Users/.search", {"schemas": [search], "cursor": "", "count": 2}).json()
    rest = scim.post(
        "/Users/.search", {"schemas": [search], "cursor": first["nextCursor"], "count": 2}
    ).json()
    assert [r["id"] for r in first["Resources"] + rest["Resources"]] == [str(u.pk) for u in users]


def test_groups_page_by_cursor_too(scim, organization):
    from accounts.models import Group

    groups = Group.objects.bulk_create(
        [Group(organization=organization, display_name=f"G{i}") for i in range(5)]
    )
    first = scim.get("/Groups", cursor="", count=3).json()
    rest = scim.get("/Groups", cursor=first["nextCursor"], count=3).json()
    assert (first["totalResults"], "nextCursor" in rest) == (5, False)
    assert [r["id"] for r in first["Resources"] + rest["Resources"]] == [str(g.pk) for g in groups]


# -- refused cursors ---------------------------------------------------------------


def refusal(response) -> tuple[int, str]:
    return response.status_code, response.json().get("scimType")


def next_cursor(scim) -> str:
    return scim.get("/Users", cursor="", count=1).json()["nextCursor"]


@pytest.mark.parametrize("cursor", ["garbage", "a" * 600, "W10.abc.def", "%00", "eyJ4IjoxfQ.1.2"])
def test_a_cursor_this_service_did_not_give_is_invalid(scim, organization, cursor):
    bulk_users(organization, 2)
    assert refusal(scim.get("/Users", cursor=cursor)) == (400, "invalidCursor")


def test_a_tampered_cursor_is_invalid(scim, organization):
    bulk_users(organization, 3)
    cursor = next_cursor(scim)
    value, timestamp, signature = cursor.split(".")
    tampered = f"{value[:-2]}{'A' if value[-2] != 'A' else 'B'}{value[-1]}.{timestamp}.{signature}"
    assert refusal(scim.get("/Users", cursor=tampered)) == (400, "invalidCursor")


def test_another_organizations_cursor_is_invalid(
    scim, other_scim, organization, other_organization
):
    bulk_users(organization, 3)
    bulk_users(other_organization, 3)
    assert refusal(other_scim.get("/Users", cursor=next_cursor(scim))) == (400, "invalidCursor")


def test_a_users_cursor_is_invalid_for_groups(scim, organization):
    bulk_users(organization, 3)
    assert refusal(scim.get("/Groups", cursor=next_cursor(scim))) == (400, "invalidCursor")


def test_a_cursor_for_another_filter_is_invalid(scim, organization):
    bulk_users(organization, 3)
    cursor = next_cursor(scim)
    response = scim.get("/Users", cursor=cursor, filter='userName sw "u"')
    assert refusal(response) == (400, "invalidCursor")


def test_a_cursor_signed_with_another_key_is_invalid(scim, organization):
    bulk_users(organization, 3)
    forged = TimestampSigner(key="not-the-key", sep=".").sign_object(
        [organization.pk, "User", "0" * 16, "2020-01-01T00:00:00+00:00", str(organization.pk)]
    )
    assert refusal(scim.get("/Users", cursor=forged)) == (400, "invalidCursor")


def test_an_old_cursor_has_expired(scim, organization, monkeypatch):
    bulk_users(organization, 3)
    cursor = next_cursor(scim)
    monkeypatch.setattr(paging, "CURSOR_TIMEOUT", -1)
    assert refusal(scim.get("/Users", cursor=cursor)) == (400, "expiredCursor")


def test_cursor_with_start_index_sort_or_zero_count_is_refused(scim, organization):
    bulk_users(organization, 3)
    assert refusal(scim.get("/Users", cursor="", startIndex=2)) == (400, "invalidValue")
    assert refusal(scim.get("/Users", cursor="", sortBy="userName")) == (400, "invalidValue")
    assert refusal(scim.get("/Users", cursor="", count=0)) == (400, "invalidCount")


def test_a_non_string_cursor_in_a_search_body_is_invalid(scim, organization):
    search = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
    response = scim.post("/Users/.search", {"schemas": [search], "cursor": 5})
    assert refusal(response) == (400, "invalidCursor")


def test_service_provider_config_advertises_both_ways_of_paging(scim, settings):
    body = scim.get("/ServiceProviderConfig").json()
    assert body["pagination"] == {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": settings.SCIM_MAX_PAGE_SIZE,
        "maxPageSize": settings.SCIM_MAX_PAGE_SIZE,
        "cursorTimeout": 3600,
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL query plans")
def test_a_cursor_page_seeks_through_the_creation_index(organization):
    from accounts.models import User

    users = bulk_users(organization, 2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_user")
    key = (users[1500].created_at, users[1500].pk)
    rows = paging.after(User.objects.filter(organization=organization), key)
    plan = rows.order_by(*paging.CREATION_ORDER)[:100].explain()
    assert "user_org_created_idx" in plan
    assert "created_at >=" in plan.replace('"', "")
