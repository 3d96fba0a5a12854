"""Query counts are constant per page, and membership changes cost the change."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Group, Membership, User
from tests.conftest import DATABASE_CACHE_TABLE

pytestmark = pytest.mark.django_db

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# Token lookup, rate-limit counter, page ids, page, its groups, its IdP-managed SSH
# keys, count, request log row; a read opens no transaction. The point is that it does
# not grow with the page.
LIST_BUDGET = 8


def bulk_users(organization, count, prefix="u"):
    return User.objects.bulk_create(
        [
            User(
                organization=organization,
                username=f"{prefix}{i}@example.com",
                email=f"{prefix}{i}@example.com",
                # bulk_create skips User.save(), which writes the comparison keys.
                username_key=f"{prefix}{i}@example.com",
                email_key=f"{prefix}{i}@example.com",
            )
            for i in range(count)
        ]
    )


@pytest.fixture
def hundred_users_in_groups(organization):
    users = bulk_users(organization, 100)
    groups = Group.objects.bulk_create(
        [Group(organization=organization, display_name=f"G{i}") for i in range(5)]
    )
    Membership.objects.bulk_create([Membership(group=g, user=u) for u in users for g in groups[:3]])
    return users


@pytest.fixture
def hundred_groups_with_members(organization):
    users = bulk_users(organization, 20)
    groups = Group.objects.bulk_create(
        [Group(organization=organization, display_name=f"G{i}") for i in range(100)]
    )
    Membership.objects.bulk_create([Membership(group=g, user=u) for g in groups for u in users[:5]])
    return groups


def queries_for(scim, path, **params):
    scim.get(path, count=1)  # warm the token's last-used write out of the measurement
    with CaptureQueriesContext(connection) as context:
        response = scim.get(path, **params)
    assert response.status_code == 200
    return len(context.captured_queries), response.json()


@pytest.mark.parametrize("count", [10, 100])
def test_listing_users_with_groups_is_constant(
    scim, hundred_users_in_groups, count, django_assert_max_num_queries
):
    queries, body = queries_for(scim, "/Users", count=count)
    assert body["itemsPerPage"] == count
    assert all(len(r["groups"]) == 3 for r in body["Resources"])
    assert queries <= LIST_BUDGET
    with django_assert_max_num_queries(LIST_BUDGET):
        scim.get("/Users", count=count)


def test_user_pages_of_different_sizes_cost_the_same(scim, hundred_users_in_groups):
    small, _ = queries_for(scim, "/Users", count=10)
    large, _ = queries_for(scim, "/Users", count=100)
    assert small == large


@pytest.mark.parametrize("count", [10, 100])
def test_listing_groups_with_members_is_constant(
    scim, hundred_groups_with_members, count, django_assert_max_num_queries
):
    queries, body = queries_for(scim, "/Groups", count=count)
    assert body["itemsPerPage"] == count
    assert all(len(r["members"]) == 5 for r in body["Resources"])
    assert queries <= LIST_BUDGET
    with django_assert_max_num_queries(LIST_BUDGET):
        scim.get("/Groups", count=count)


def test_group_pages_of_different_sizes_cost_the_same(scim, hundred_groups_with_members):
    small, _ = queries_for(scim, "/Groups", count=10)
    large, _ = queries_for(scim, "/Groups", count=100)
    assert small == large


def test_filtered_list_costs_the_same(scim, hundred_users_in_groups):
    unfiltered, _ = queries_for(scim, "/Users", count=10)
    filtered, body = queries_for(scim, "/Users", count=10, filter='userName sw "u1"')
    assert body["totalResults"] == 11
    assert filtered == unfiltered


def test_a_page_that_ends_the_list_is_not_counted(scim, hundred_users_in_groups):
    full, _ = queries_for(scim, "/Users", count=10, filter='userName sw "u1"')
    last, body = queries_for(scim, "/Users", count=10, startIndex=6, filter='userName sw "u1"')
    assert (body["totalResults"], body["itemsPerPage"]) == (11, 6)
    past_the_end, body = queries_for(scim, "/Users", count=10, startIndex=101)
    assert (body["totalResults"], body["itemsPerPage"]) == (100, 0)
    assert last == full - 1
    assert past_the_end == full - 3  # the count, but no page (nor its groups and keys)


def add_one(scim, group, user, params=""):
    body = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": str(user.pk)}]}],
    }
    with CaptureQueriesContext(connection) as context:
        response = scim.patch(f"/Groups/{group.pk}{params}", body)
    assert response.status_code == (200 if params else 204)
    return context.captured_queries


@pytest.mark.parametrize("size", [10, 2000])
def test_adding_one_member_does_not_touch_the_others(scim, organization, size):
    members = bulk_users(organization, size, prefix=f"m{size}-")
    newcomer, another = bulk_users(organization, 2, prefix="new")
    group = Group.objects.create(organization=organization, display_name="Big")
    Membership.objects.bulk_create([Membership(group=group, user=u) for u in members])
    add_one(scim, group, another)  # warm the token's last-used write
    queries = add_one(scim, group, newcomer)
    # Token, rate-limit counter, the transaction's two commands, the group's lock, the
    # users with their insert and the version (one statement), audit and event rows
    # (one statement), the request log row.
    assert len(queries) <= budget(MEMBER_ADD_BUDGET, "database", on_sqlite=3)
    assert Membership.objects.filter(group=group).count() == size + 2
    # Every statement on the membership table names the newcomer: none reads or
    # rewrites the existing members.
    membership_sql = [q["sql"] for q in queries if "accounts_membership" in q["sql"]]
    assert len(membership_sql) == 1  # INSERT ... ON CONFLICT DO NOTHING RETURNING
    assert all(newcomer.pk.hex in sql.replace("-", "") for sql in membership_sql)


@pytest.mark.parametrize("params", ["", "?excludedAttributes=members"])
def test_member_add_costs_the_same_for_small_and_large_groups(scim, organization, params):
    counts = []
    for size in (5, 1500):
        members = bulk_users(organization, size, prefix=f"s{size}-")
        newcomer, warm = bulk_users(organization, 2, prefix=f"n{size}-")
        group = Group.objects.create(organization=organization, display_name=f"Group {size}")
        Membership.objects.bulk_create([Membership(group=group, user=u) for u in members])
        add_one(scim, group, warm, params)
        counts.append(len(add_one(scim, group, newcomer, params)))
    assert counts[0] == counts[1]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL query plans")
def test_okta_existence_check_uses_a_folded_username_index(organization):
    from provisioning.filters import USER_FILTER

    bulk_users(organization, 2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_user")
    matching = User.objects.filter(organization=organization).filter(
        USER_FILTER.to_q('userName eq "U5@EXAMPLE.com"')
    )
    plan = matching.explain()
    # Either index on the folded userName (the organization's unique one, or the one
    # across organizations, transfer migration 0002), never the organization's users.
    assert "user_username_key_unique_per_org" in plan or "user_username_key_idx" in plan
    assert "Seq Scan on accounts_user" not in plan
    assert matching.count() == 1


# -- Statements per request, on the production caches -------------------------------


def statements_of(send):
    """(response, SQL statements) of one request; transaction commands are among them."""
    with CaptureQueriesContext(connection) as context:
        response = send()
    return response, [q["sql"] for q in context.captured_queries]


def test_a_scim_request_writes_nothing_to_the_cache(scim, shared_cache, settings):
    scim.get("/Users", count=1)  # the token's last-used write
    response, statements = statements_of(lambda: scim.get("/Users"))
    assert response.status_code == 200
    assert not [sql for sql in statements if DATABASE_CACHE_TABLE in sql]
    if shared_cache == "redis":
        from django.core.cache import cache

        prefix = settings.CACHES["default"]["KEY_PREFIX"]
        keys = cache._cache.get_client().keys(f"{prefix}:*")
        # The per-token request counter, nothing else.
        assert [key.decode().split(":")[2] for key in keys] == ["ratelimit"]


def transaction_commands(statements) -> list[str]:
    return [
        sql.split()[0]
        for sql in statements
        if sql in ("BEGIN", "COMMIT", "ROLLBACK") or sql.startswith(("SAVEPOINT", "RELEASE"))
    ]


USER = "urn:ietf:params:scim:schemas:core:2.0:User"
# What a request costs on each production cache. With Redis the rate-limit counter is
# not a statement; on the database it is one upsert.
LOOKUP_BUDGET = {"database": 4, "redis": 3}
CREATE_BUDGET = {"database": 7, "redis": 6}
MEMBER_ADD_BUDGET = {"database": 8, "redis": 7}


def budget(budgets: dict, cache: str, *, on_sqlite: int = 0) -> int:
    """The budget is PostgreSQL's. SQLite has no data-modifying CTEs: the statements
    that PostgreSQL makes one (an audit event with its directory events; the users
    named, their memberships and the group's version) are `on_sqlite` more there."""
    return budgets[cache] + (0 if connection.vendor == "postgresql" else on_sqlite)


@pytest.mark.django_db(transaction=True)
def test_an_okta_lookup_that_finds_nothing(scim, shared_cache):
    scim.get("/Users", count=1)  # the token's last-used write, once a minute
    response, statements = statements_of(
        lambda: scim.get("/Users", filter='userName eq "nobody@example.com"')
    )
    assert response.json()["totalResults"] == 0
    # Token, (counter,) the lookup, the request log row: no count, no transaction.
    assert len(statements) <= LOOKUP_BUDGET[shared_cache]
    assert transaction_commands(statements) == []


@pytest.mark.django_db(transaction=True)
def test_an_okta_create(scim, shared_cache):
    scim.get("/Users", count=1)
    response, statements = statements_of(
        lambda: scim.post(
            "/Users",
            {
                "schemas": [USER],
                "userName": "ada@example.com",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "emails": [{"value": "ada@example.com", "type": "work", "primary": True}],
                "active": True,
            },
        )
    )
    assert response.status_code == 201
    assert response.json()["groups"] == []
    # Token, (counter,) BEGIN, the user, its audit and directory events in one INSERT,
    # COMMIT, the request log row: no uniqueness pre-read, no savepoint, no re-read.
    assert len(statements) <= budget(CREATE_BUDGET, shared_cache, on_sqlite=1)
    assert transaction_commands(statements) == ["BEGIN", "COMMIT"]
    user = User.objects.get(username="ada@example.com")
    assert response.json()["meta"]["version"] == f'W/"{user.version}"'
    assert response.json()["meta"]["created"] == user.created_at.isoformat()


@pytest.mark.django_db(transaction=True)
def test_a_taken_username_is_a_409_from_the_constraint(scim, shared_cache, make_user, organization):
    make_user(organization, "ada@example.com")
    response, statements = statements_of(
        lambda: scim.post("/Users", {"schemas": [USER], "userName": "ADA@example.com"})
    )
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"
    assert transaction_commands(statements) == ["BEGIN", "ROLLBACK"]
    assert User.objects.filter(organization=organization).count() == 1


def test_a_user_write_is_answered_from_the_user_in_hand(scim, organization, make_user):
    user = make_user(organization)
    scim.get("/Users", count=1)
    response, statements = statements_of(
        lambda: scim.patch(
            f"/Users/{user.pk}",
            {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "title", "value": "Engineer"}],
            },
        )
    )
    assert response.status_code == 200
    assert response.json()["title"] == "Engineer"
    assert response["ETag"] == 'W/"2"'
    user_reads = [
        sql for sql in statements if sql.startswith("SELECT") and '"accounts_user"' in sql
    ]
    # The view's lock; the service writes that row and the answer renders it, with
    # only its groups loaded. The organization came with the token.
    assert len(user_reads) == 1
    assert not [sql for sql in statements if 'FROM "accounts_organization"' in sql]


def member_patch(*users) -> dict:
    return {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "add", "path": "members", "value": [{"value": str(u.pk)} for u in users]}
        ],
    }


@pytest.mark.django_db(transaction=True)
def test_a_member_add(scim, shared_cache, organization):
    from accounts.events.models import DirectoryEvent, EventType

    ada, bob, cy = bulk_users(organization, 3, prefix="m")
    group = Group.objects.create(organization=organization, display_name="Eng")
    scim.get("/Users", count=1)
    response, statements = statements_of(
        lambda: scim.patch(f"/Groups/{group.pk}", member_patch(ada, bob))
    )
    assert response.status_code == 204
    # Token, (counter,) BEGIN, the group's lock, one statement reading the users named,
    # adding the memberships (INSERT ... ON CONFLICT DO NOTHING RETURNING) and bumping
    # the version, one writing the audit event and the directory events, COMMIT, the
    # request log row.
    assert len(statements) <= budget(MEMBER_ADD_BUDGET, shared_cache, on_sqlite=3)
    assert transaction_commands(statements) == ["BEGIN", "COMMIT"]
    _, statements = statements_of(
        lambda: scim.patch(f"/Groups/{group.pk}", member_patch(ada, bob, cy))
    )
    assert len(statements) <= budget(MEMBER_ADD_BUDGET, shared_cache, on_sqlite=3)
    events = DirectoryEvent.objects.filter(type=EventType.GROUP_MEMBER_ADDED).order_by("id")
    # One event per member actually added; ada and bob were members already.
    assert [(e.user_id, e.resource_version) for e in events] == [
        (ada.pk, 2),
        (bob.pk, 2),
        (cy.pk, 3),
    ]


def test_adding_members_already_present_writes_nothing(scim, organization):
    from accounts.events.models import DirectoryEvent
    from accounts.models import AuditEvent

    ada, bob = bulk_users(organization, 2, prefix="p")
    group = Group.objects.create(organization=organization, display_name="Eng")
    assert scim.patch(f"/Groups/{group.pk}", member_patch(ada, bob)).status_code == 204
    events, audits = DirectoryEvent.objects.count(), AuditEvent.objects.count()
    response, statements = statements_of(
        lambda: scim.patch(f"/Groups/{group.pk}", member_patch(bob, ada))
    )
    assert response.status_code == 204
    assert response["ETag"] == 'W/"2"'
    assert (DirectoryEvent.objects.count(), AuditEvent.objects.count()) == (events, audits)
    assert not [sql for sql in statements if sql.startswith("UPDATE")]


# -- A large organization: the last page costs what the first does ------------------

# Token lookup, rate-limit counter, the page ids, the kept count (provisioning.counts),
# the page, its groups, its IdP-managed SSH keys, the request log row. The last page
# seeks from the key the page before it left (provisioning.paging), so it walks no
# index and counts no users either.
LARGE_PAGE_BUDGET = 8


def test_first_and_last_page_of_a_large_organization(scim, organization, django_assert_num_queries):
    bulk_users(organization, 2000)
    scim.get("/Users", count=1)  # warm the token's last-used write
    with django_assert_num_queries(LARGE_PAGE_BUDGET):
        first = scim.get("/Users", startIndex=1, count=100)
    scim.get("/Users", startIndex=1801, count=100)  # the page an import reads before
    with django_assert_num_queries(LARGE_PAGE_BUDGET):
        last = scim.get("/Users", startIndex=1901, count=100)
    assert (first.json()["totalResults"], last.json()["itemsPerPage"]) == (2000, 100)


def test_first_and_last_cursor_page_of_a_large_organization(
    scim, organization, django_assert_num_queries
):
    bulk_users(organization, 2000)
    scim.get("/Users", count=1)
    with django_assert_num_queries(LARGE_PAGE_BUDGET):
        body = scim.get("/Users", cursor="", count=100).json()
    for _ in range(18):
        body = scim.get("/Users", cursor=body["nextCursor"], count=100).json()
    with django_assert_num_queries(LARGE_PAGE_BUDGET):
        last = scim.get("/Users", cursor=body["nextCursor"], count=100).json()
    assert (last["itemsPerPage"], "nextCursor" in last) == (100, False)
