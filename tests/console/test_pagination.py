import pytest
from django.urls import reverse

from accounts.models import User
from console.pagination import decode_cursor, encode_cursor, keyset_page, page_size_from


def test_cursor_round_trip_and_garbage():
    import datetime as dt
    import uuid

    values = [dt.datetime(2026, 1, 1, tzinfo=dt.UTC), uuid.uuid4()]
    assert decode_cursor(encode_cursor("after", values), 2) == ("after", values)
    for garbage in ("", "%%%", encode_cursor("sideways", values), encode_cursor("after", [1])):
        assert decode_cursor(garbage, 2) is None


def test_page_size_is_clamped():
    assert page_size_from(None) == 50
    assert page_size_from("0") == 1
    assert page_size_from("100000") == 200
    assert page_size_from("ten") == 50


def test_ties_on_the_first_key_are_broken_by_the_second(organization, make_user):
    people = [make_user(organization, f"same{i}@acme.example") for i in range(5)]
    User.objects.filter(pk__in=[p.pk for p in people]).update(created_at=people[0].created_at)
    users = User.objects.filter(organization=organization)
    ordering = ("-created_at", "-id")
    seen, cursor = [], ""
    while True:
        page = keyset_page(users, ordering=ordering, cursor=cursor, size=2)
        seen += [u.pk for u in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == list(users.order_by(*ordering).values_list("pk", flat=True))


@pytest.mark.parametrize(
    "values",
    [
        [5, "x"],
        ["x", 5],
        [{"dt": "2020-01-01T00:00:00"}, {"uuid": "00000000-0000-0000-0000-000000000000"}],
        [True, None],
        ["2026-01-01T00:00:00+00:00", "not-a-uuid"],
    ],
)
@pytest.mark.parametrize(
    "page", ["console:users", "console:groups", "console:activity", "console:provisioning"]
)
def test_a_tampered_cursor_shows_the_first_page(owner_client, org_owner, values, page):
    response = owner_client.get(reverse(page), {"cursor": encode_cursor("after", values)})
    assert response.status_code == 200
    assert response.context["page"].is_first
