"""Deep pages cost what the first does, and the kept count stays exact."""

import threading

import pytest
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Group, Membership, User
from accounts.services.groups import group_create, group_delete
from accounts.services.organizations import organization_create
from accounts.services.users import user_deactivate, user_delete
from provisioning import counts
from provisioning.models import ResourceCount
from tests.provisioning.test_query_budgets import bulk_users

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the count is kept by PostgreSQL triggers"
)


def total(organization, resource=counts.USER) -> int:
    return counts.tally(organization, resource, None).total


def page_ids(scim, start_index, count=100):
    body = scim.get("/Users", startIndex=start_index, count=count).json()
    return body["totalResults"], [r["id"] for r in body["Resources"]]


def test_an_import_by_start_index_serves_every_user_once(scim, organization):
    users = bulk_users(organization, 2100)
    seen = []
    for start_index in range(1, 2101, 100):
        totals, ids = page_ids(scim, start_index)
        assert totals == 2100
        seen += ids
    assert seen == [str(u.pk) for u in users]


def test_a_page_after_a_deletion_is_not_served_from_the_old_positions(
    scim, organization, system_actor
):
    users = bulk_users(organization, 1300)
    page_ids(scim, 1101)  # remembers where startIndex 1201 begins
    user_delete(user=users[5], actor=system_actor)
    totals, ids = page_ids(scim, 1201)
    # Everyone moved up one place: the page starts at the 1,202nd user as created.
    assert (totals, ids) == (1299, [str(u.pk) for u in users[1201:]])


def test_a_jump_to_a_deep_page_without_the_page_before(scim, organization):
    users = bulk_users(organization, 1500)
    assert page_ids(scim, 1401) == (1500, [str(u.pk) for u in users[1400:]])


def test_a_sorted_or_filtered_deep_page_is_served_by_offset(scim, organization):
    users = bulk_users(organization, 1300)
    body = scim.get("/Users", startIndex=1201, count=100, sortBy="userName").json()
    by_name = sorted(users, key=lambda u: u.username)
    assert [r["id"] for r in body["Resources"]] == [str(u.pk) for u in by_name[1200:]]
    # u1, u10..u19, u100..u199, u1000..u1299
    body = scim.get("/Users", startIndex=301, count=100, filter='userName sw "u1"').json()
    assert (body["totalResults"], body["itemsPerPage"]) == (411, 100)


# -- the kept count ------------------------------------------------------------------


@postgresql_only
def test_the_count_follows_every_way_users_come_and_go(
    organization, make_user, system_actor, other_organization
):
    made = [make_user(organization) for _ in range(3)]
    bulk_users(organization, 40)
    assert total(organization) == 43
    user_deactivate(user=made[0], actor=system_actor)  # still a user, still listed
    assert total(organization) == 43
    user_delete(user=made[1], actor=system_actor)
    User.objects.filter(organization=organization, username__startswith="u1").delete()
    assert total(organization) == 42 - 11
    bulk_users(other_organization, 5)
    assert (total(organization), total(other_organization)) == (31, 5)


@postgresql_only
def test_the_count_of_groups(organization, system_actor, make_user):
    first = group_create(organization=organization, display_name="One", actor=system_actor)
    group_create(organization=organization, display_name="Two", actor=system_actor)
    Group.objects.bulk_create(
        [Group(organization=organization, display_name=f"G{i}") for i in range(3)]
    )
    group_delete(group=first, actor=system_actor)
    assert total(organization, counts.GROUP) == 4


@postgresql_only
def test_a_rolled_back_create_is_not_counted(organization, make_user):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        make_user(organization)
        raise RuntimeError
    assert total(organization) == 0


@postgresql_only
def test_count_rows_are_folded_when_they_pile_up(organization, make_user):
    for _ in range(counts.FOLD_AT + 1):
        make_user(organization)
    assert total(organization) == counts.FOLD_AT + 1
    rows = ResourceCount.objects.filter(organization=organization, resource=counts.USER)
    assert list(rows.values_list("delta", flat=True)) == [counts.FOLD_AT + 1]


@postgresql_only
def test_deleting_an_organization_takes_its_count_rows(system_actor):
    organization = organization_create(slug="gone", name="Gone", actor=system_actor)
    bulk_users(organization, 3)
    Group.objects.create(organization=organization, display_name="G")
    organization.delete()
    assert not ResourceCount.objects.filter(organization_id=organization.pk).exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_are_all_counted_without_waiting_on_each_other(system_actor):
    """Eight connections create users at once and hold their transactions open until
    all have inserted: none waits for another (no shared counter row), and the sum
    is exact after they commit."""
    organization = organization_create(slug="busy", name="Busy", actor=system_actor)
    from accounts.services.users import user_create

    inserted = threading.Barrier(8, timeout=20)
    errors = []

    def create(number: int) -> None:
        from django.db import transaction

        try:
            with transaction.atomic():
                for index in range(5):
                    user_create(
                        organization=organization,
                        username=f"c{number}-{index}@example.com",
                        actor=system_actor,
                    )
                inserted.wait()  # every writer has inserted before any commits
        except Exception as error:
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert total(organization) == 40 == User.objects.filter(organization=organization).count()


# -- query budgets -------------------------------------------------------------------


def statements(scim, **params) -> list[str]:
    with CaptureQueriesContext(connection) as context:
        response = scim.get("/Users", **params)
    assert response.status_code == 200
    return [q["sql"] for q in context.captured_queries]


@postgresql_only  # the kept count and the seek hints are PostgreSQL's (provisioning.counts)
def test_the_last_page_of_a_large_organization_costs_what_the_first_does(scim, organization):
    users = bulk_users(organization, 2000)
    Membership.objects.bulk_create(
        [
            Membership(group=g, user=users[-1])
            for g in Group.objects.bulk_create([Group(organization=organization, display_name="G")])
        ]
    )
    scim.get("/Users", count=1)  # the token's last-used write
    first = statements(scim, startIndex=1, count=100)
    scim.get("/Users", startIndex=1801, count=100)  # the page an import reads before
    last = statements(scim, startIndex=1901, count=100)
    assert len(last) == len(first)
    # Neither counts the users nor walks past the ones before the page.
    user_reads = [sql.upper() for sql in first + last if 'FROM "ACCOUNTS_USER"' in sql.upper()]
    assert user_reads
    assert not [sql for sql in user_reads if "COUNT(" in sql or " OFFSET " in sql]
