"""What a decision costs in statements, and POSIX ids that never move or repeat."""

import re
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import user_delete, user_update
from tests.conftest import use_redis_cache
from transfer.models import PosixId
from transfer.services import folder_grant_set, posix_id_for_user

pytestmark = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="the budgets are PostgreSQL's"
)


@pytest.fixture
def production_cache(settings):
    """Rate limits in Redis, as in production, so the statements are the decision's."""
    use_redis_cache(settings)


def _statements(call) -> list[str]:
    call()  # the first decision allocates POSIX ids and records the first use
    with CaptureQueriesContext(connection) as queries:
        response = call()
    assert response.status_code == 200, response.content
    return [query["sql"] for query in queries.captured_queries]


@pytest.fixture
def finance(bob, make_group, system_actor):
    group = make_group(bob.organization, "Finance", members=[bob])
    folder_grant_set(group=group, path="/Finance", access="write", actor=system_actor)
    return group


def test_a_key_login_decision_is_three_statements(
    production_cache, server, bob, bob_key, finance, transfer_on
):
    statements = _statements(lambda: server.authenticate("bob@acme.example", public_key=bob_key[1]))

    # The transfer key; the person with their key, groups and folders; the log row.
    assert len(statements) == 3, "\n\n".join(statements)


def test_an_app_password_decision_is_three_statements(
    production_cache, server, bob, bob_password, finance, transfer_on
):
    statements = _statements(
        lambda: server.authenticate("bob@acme.example", password=bob_password[1])
    )

    assert len(statements) == 3, "\n\n".join(statements)


def test_authorized_keys_is_three_statements(
    production_cache, server, bob, bob_key, finance, transfer_on
):
    statements = _statements(lambda: server.authorized_keys("bob@acme.example"))

    # The transfer key; the person with their scope; their keys.
    assert len(statements) <= 3, "\n\n".join(statements)


def test_an_allowed_decision_is_two_round_trips_to_redis(
    production_cache, server, bob, bob_password, transfer_on, monkeypatch
):
    from redis.client import Pipeline, Redis

    trips = []
    execute, command = Pipeline.execute, Redis.execute_command

    def pipeline_execute(self, *args, **kwargs):
        trips.append([name for (name, *_), _ in self.command_stack])
        return execute(self, *args, **kwargs)

    def execute_command(self, *args, **kwargs):
        trips.append([args[0]])
        return command(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "execute", pipeline_execute)
    monkeypatch.setattr(Redis, "execute_command", execute_command)
    response = server.authenticate("bob@acme.example", password=bob_password[1])

    assert response.status_code == 200
    # The key's rate and the login name's refusals counted together, then the refund.
    assert trips == [["INCRBY", "EXPIRE", "INCRBY", "EXPIRE"], ["EVAL"]]


def test_a_uid_is_stable_across_renames_and_never_reused_after_deletion(
    server, organization, bob, bob_password, transfer_on, make_user, system_actor, settings
):
    first = server.authenticate("bob@acme.example", password=bob_password[1]).json()["uid"]
    user_update(user=bob, actor=system_actor, given_name="Robert", display_name="Robert B")
    assert server.authenticate("bob@acme.example", password=bob_password[1]).json()["uid"] == first

    user_delete(user=bob, actor=system_actor)
    carol = make_user(organization, "carol@acme.example")
    carols = posix_id_for_user(carol.pk)

    assert carols > first
    assert PosixId.objects.filter(number=first, user__isnull=True).exists()
    assert first >= settings.TRANSFER_UID_BASE


@pytest.mark.django_db(transaction=True)
def test_concurrent_allocations_give_one_number_per_person_and_never_the_same_twice(
    organization, make_user
):
    people = [make_user(organization, f"p{n}@acme.example") for n in range(6)]
    results: list[tuple] = []
    errors: list[BaseException] = []

    def allocate(user):
        try:
            results.append((user.pk, posix_id_for_user(user.pk)))
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=allocate, args=(p,)) for p in people for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    by_person: dict = {}
    for person, number in results:
        by_person.setdefault(person, set()).add(number)
    assert all(len(numbers) == 1 for numbers in by_person.values())
    numbers = [numbers.pop() for numbers in by_person.values()]
    assert len(set(numbers)) == len(people)


@pytest.mark.parametrize("with_groups", [False, True], ids=["the person", "the decision"])
@pytest.mark.parametrize("platform", [False, True], ids=["organization key", "platform key"])
def test_a_decision_finds_the_person_by_index_however_many_people(
    organization, org_key, platform_key, platform, with_groups
):
    """The person is read by the folded login name's index, with the organization's key
    (the unique index in the organization) and with a platform key (across them), never
    by reading the organization's or the platform's people one by one."""
    from accounts.models import User
    from transfer import decisions
    from transfer.models import TransferKey

    User.objects.bulk_create(
        [
            User(
                organization=organization,
                username=f"p{i}@gmail.example",
                username_key=f"p{i}@gmail.example",
            )
            for i in range(2000)
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_user")
    key = TransferKey.objects.get(pk=(platform_key if platform else org_key)[0].pk)
    name = decisions.parse_login(f"{organization.slug}+p7@gmail.example")
    sql, params = decisions.person_query(
        name, key, credential_kind="ssh_key", with_groups=with_groups
    )
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN ANALYZE {sql}", params)
        plan = "\n".join(line for (line,) in cursor.fetchall())

    assert "Seq Scan on accounts_user" not in plan
    assert "user_org_active_idx" not in plan
    if platform:
        # The unique index leads with the organization: read whole, not searched.
        assert "user_username_key_idx" in plan
    # The people read and dropped on the way: at most the other reading's namesake.
    dropped = [int(n) for n in re.findall(r"Rows Removed by (?:Filter|Index Recheck): (\d+)", plan)]
    assert max(dropped, default=0) <= 1, plan
    person = decisions.person_named(name, key)
    assert person.username == "p7@gmail.example"
