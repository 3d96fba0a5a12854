"""Selectors load what they say in a fixed number of queries."""

import pytest

from accounts.selectors import (
    group_by_display_name,
    groups_with_member_counts,
    user_by_username,
    users_by_ids,
    users_with_groups,
)


def _populate(organization, make_user, make_group, size):
    users = [make_user(organization) for _ in range(size)]
    for index in range(size):
        make_group(organization, members=users[: index + 1])
    return users


def _read_users_with_groups(organization):
    return [
        (user.username, [m.group.display_name for m in user.memberships.all()])
        for user in users_with_groups(organization)
    ]


@pytest.mark.parametrize("size", [2, 12])
def test_users_with_groups_costs_two_queries_at_any_size(
    organization, make_user, make_group, django_assert_num_queries, size
):
    _populate(organization, make_user, make_group, size)
    with django_assert_num_queries(2):
        rows = _read_users_with_groups(organization)
    assert len(rows) == size
    assert len(rows[0][1]) == size
    assert len(rows[-1][1]) == 1


def test_users_with_groups_lists_only_the_organizations_users(
    organization, other_organization, make_user, make_group
):
    mine = make_user(organization)
    make_user(other_organization)
    assert [user.pk for user in users_with_groups(organization)] == [mine.pk]


def test_user_by_username_ignores_case_and_other_organizations(
    organization, other_organization, make_user
):
    user = make_user(organization, "Ada@Example.com")
    make_user(other_organization, "ada@example.com")
    assert user_by_username(organization, "ADA@example.COM") == user
    assert user_by_username(organization, "grace@example.com") is None


def test_group_by_display_name_ignores_case(organization, make_group):
    group = make_group(organization, "Engineering")
    assert group_by_display_name(organization, "ENGINEERING") == group


def test_users_by_ids_skips_foreign_and_malformed_ids(organization, other_organization, make_user):
    mine = make_user(organization)
    theirs = make_user(other_organization)
    found = users_by_ids(organization, [str(mine.pk), str(theirs.pk), "not-a-uuid", None])
    assert found == {str(mine.pk): mine}


def test_groups_with_member_counts_counts_members(organization, make_user, make_group):
    users = [make_user(organization) for _ in range(3)]
    make_group(organization, "Three", members=users)
    make_group(organization, "None")
    counts = {g.display_name: g.member_count for g in groups_with_member_counts(organization)}
    assert counts == {"Three": 3, "None": 0}
