"""Correctness under concurrency, against two live gunicorn servers on one PostgreSQL.

Requests alternate between the two servers (two workers each), so the races are
real: different processes, different database connections, one set of rows.
"""

import string

import pytest
from django.db.models.functions import Lower

from accounts.models import AuditAction, AuditEvent, Membership, User
from tests.load.conftest import requires_postgresql
from tests.load.scim_http import all_at_once, assert_scim_error, client, patch_body, user_body

pytestmark = [requires_postgresql, pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def servers(live_server_a, live_server_b):
    return [live_server_a, live_server_b]


@pytest.fixture
def clients(servers, scim_secret):
    opened = [client(server, scim_secret) for server in servers]
    yield opened
    for http in opened:
        http.close()


def letter_cases(word: str, count: int) -> list[str]:
    """`count` spellings of `word` differing only in letter case."""
    letters = [i for i, char in enumerate(word) if char in string.ascii_letters]
    spellings = []
    for pattern in range(count):
        chars = list(word.lower())
        for bit, position in enumerate(letters):
            if pattern >> bit & 1:
                chars[position] = chars[position].upper()
        spellings.append("".join(chars))
    assert len(set(spellings)) == count
    return spellings


def test_same_username_in_32_letter_cases_creates_exactly_one_user(organization, clients):
    spellings = letter_cases("jane.doe@example.com", 32)

    responses = all_at_once(
        [
            lambda i=i, name=name: clients[i % 2].post("/Users", content=user_body(name))
            for i, name in enumerate(spellings)
        ]
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * 31
    for response in responses:
        if response.status_code == 409:
            assert_scim_error(response, 409)
            assert response.json()["scimType"] == "uniqueness"
    rows = User.objects.annotate(lower=Lower("username")).filter(
        organization=organization, lower="jane.doe@example.com"
    )
    assert rows.count() == 1


def test_16_clients_adding_different_members_lose_none(
    organization, clients, make_user, make_group
):
    group = make_group(organization, "Engineering")
    users = [make_user(organization, f"member{i}@example.com") for i in range(16)]

    responses = all_at_once(
        [
            lambda i=i, user=user: clients[i % 2].patch(
                f"/Groups/{group.pk}",
                content=patch_body(
                    {"op": "add", "path": "members", "value": [{"value": str(user.pk)}]}
                ),
            )
            for i, user in enumerate(users)
        ]
    )

    assert {response.status_code for response in responses} <= {200, 204}, [
        response.text for response in responses
    ]
    stored = set(Membership.objects.filter(group=group).values_list("user_id", flat=True))
    assert stored == {user.pk for user in users}
    served = clients[0].get(f"/Groups/{group.pk}").json()
    assert {member["value"] for member in served["members"]} == {str(u.pk) for u in users}


@pytest.mark.parametrize("initially_member", [False, True])
def test_concurrent_add_and_remove_of_one_member_ends_as_some_order_would(
    organization, clients, make_user, make_group, initially_member
):
    user = make_user(organization, "contested@example.com")
    group = make_group(organization, "Contested", members=[user] if initially_member else [])
    add = patch_body({"op": "add", "path": "members", "value": [{"value": str(user.pk)}]})
    remove = patch_body({"op": "remove", "path": f'members[value eq "{user.pk}"]'})

    for _ in range(5):
        responses = all_at_once(
            [
                lambda: clients[0].patch(f"/Groups/{group.pk}", content=add),
                lambda: clients[1].patch(f"/Groups/{group.pk}", content=remove),
            ]
        )

        assert {response.status_code for response in responses} <= {200, 204}
        is_member = Membership.objects.filter(group=group, user=user).exists()
        # Serial orders: add then remove leaves no member, remove then add leaves one.
        # Whichever happened, the last recorded change must agree with the final state.
        last_change = (
            AuditEvent.objects.filter(
                target_type="group",
                target_id=str(group.pk),
                action__in=[AuditAction.GROUP_MEMBERS_ADDED, AuditAction.GROUP_MEMBERS_REMOVED],
            )
            .order_by("-occurred_at", "-id")
            .first()
        )
        if last_change is not None:
            expected = last_change.action == AuditAction.GROUP_MEMBERS_ADDED
            assert is_member == expected
        assert Membership.objects.filter(group=group, user=user).count() == int(is_member)


def test_concurrent_puts_with_if_match_let_exactly_one_win_per_version(
    organization, clients, make_user
):
    user = make_user(organization, "racer@example.com")

    for round_number in range(2):
        current = clients[0].get(f"/Users/{user.pk}")
        assert current.status_code == 200
        etag = current.headers["ETag"]
        assert current.json()["meta"]["version"] == etag

        responses = all_at_once(
            [
                lambda i=i, n=round_number, etag=etag: clients[i % 2].put(
                    f"/Users/{user.pk}",
                    content=user_body("racer@example.com", title=f"round {n} #{i}"),
                    headers={"If-Match": etag},
                )
                for i in range(8)
            ]
        )

        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] + [412] * 7, [response.text for response in responses]
        for response in responses:
            if response.status_code == 412:
                assert_scim_error(response, 412)
        winner = next(response for response in responses if response.status_code == 200)
        assert winner.headers["ETag"] != etag
        user.refresh_from_db()
        assert user.title == winner.json()["title"]
