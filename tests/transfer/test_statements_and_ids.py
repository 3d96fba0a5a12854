"""What a decision costs in statements, and POSIX ids that never move or repeat."""

import re
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import user_delete, user_update
from tests.conftest import record_redis_commands, use_redis_cache
from transfer.models import PosixId
from transfer.services import folder_grant_set, posix_id_for_user

pytestmark = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="the budgets are PostgreSQL's"
)


@pytest.fixture
def production_cache(settings):
    """Rate limits in Redis, as in production, so the statements are the decision's."""
    use_redis_cache(settings)


def _captured(call) -> list[dict]:
    with CaptureQueriesContext(connection) as queries:
        response = call()
    assert response.status_code == 200, response.content
    return queries.captured_queries


def _statements(call) -> list[str]:
    call()  # the first decision allocates POSIX ids and records the first use
    return [query["sql"] for query in _captured(call)]


@pytest.fixture
def finance(bob, make_group, system_actor):
    group = make_group(bob.organization, "Finance", members=[bob])
    folder_grant_set(group=group, path="/Finance", access="write", actor=system_actor)
    return group


def test_a_key_login_decision_is_one_statement(
    production_cache, server, bob, bob_key, finance, transfer_on
):
    statements = _statements(lambda: server.authenticate("bob@acme.example", public_key=bob_key[1]))

    # The transfer key with the person, their key, groups and folders; the log row waits
    # in Redis to be written in a batch (transfer.sign_in_log).
    assert len(statements) == 1, "\n\n".join(statements)
    assert statements[0].startswith("WITH presented AS (")


def test_a_decision_written_at_once_is_two_statements_with_its_last_use(
    production_cache, server, bob, bob_key, finance, transfer_on, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from transfer.models import SshKey

    settings.TRANSFER_LOG_BUFFER = 0
    # The first decision allocates POSIX ids and records the transfer key's use.
    assert server.authenticate("bob@acme.example", public_key=bob_key[1]).status_code == 200
    stale = timezone.now() - timedelta(minutes=5)
    SshKey.objects.filter(pk=bob_key[0].pk).update(last_used_at=stale)

    statements = [
        query["sql"]
        for query in _captured(
            lambda: server.authenticate("bob@acme.example", public_key=bob_key[1])
        )
    ]

    # The log row and the key's last use in one statement.
    assert len(statements) == 2, "\n\n".join(statements)
    assert statements[1].startswith('WITH used AS (UPDATE "transfer_sshkey"')
    bob_key[0].refresh_from_db()
    assert bob_key[0].last_used_at > stale


def test_an_app_password_decision_is_one_statement(
    production_cache, server, bob, bob_password, finance, transfer_on
):
    statements = _statements(
        lambda: server.authenticate("bob@acme.example", password=bob_password[1])
    )

    assert len(statements) == 1, "\n\n".join(statements)


def test_authorized_keys_is_one_statement(
    production_cache, server, bob, bob_key, finance, transfer_on
):
    statements = _statements(lambda: server.authorized_keys("bob@acme.example"))

    # The transfer key with the person, their scope and their keys.
    assert len(statements) == 1, "\n\n".join(statements)


def test_an_allowed_decision_is_one_round_trip_to_redis(
    production_cache, server, bob, bob_password, transfer_on, monkeypatch
):
    # Once, so that Redis knows the scripts: this is the steady state.
    assert server.authenticate("bob@acme.example", password=bob_password[1]).status_code == 200
    trips = record_redis_commands(monkeypatch)
    response = server.authenticate("bob@acme.example", password=bob_password[1])

    assert response.status_code == 200
    # The key's rate counted and the login name's refusals looked at, together.
    assert trips == ["EVALSHA"]


def test_authorized_keys_counts_the_keys_rate_in_redis_a_block_at_a_time(
    production_cache, server, bob, bob_key, transfer_on, monkeypatch, settings
):
    settings.TRANSFER_KEY_RATE = "6000/1m"  # the default: blocks of 60 requests
    monkeypatch.setattr("config.ratelimit._reservations", {})
    trips = record_redis_commands(monkeypatch)
    answers = [server.authorized_keys("bob@acme.example") for _ in range(61)]

    assert {answer.status_code for answer in answers} == {200}
    assert all(answer.content.decode().startswith("restrict ") for answer in answers)
    # The first request reserved 60 of the key's 6,000 a minute; the 61st the next 60.
    assert [trip for trip in trips if trip != "SCRIPT LOAD"] == ["EVALSHA", "EVALSHA"]


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


@pytest.mark.parametrize("statement", ["decision", "authorized_keys"])
@pytest.mark.parametrize("platform", [False, True], ids=["organization key", "platform key"])
def test_a_decision_finds_the_person_by_index_however_many_people(
    organization, org_key, platform_key, platform, statement
):
    """The person is read by the folded login name's index, with the organization's key
    (the unique index in the organization) and with a platform key (across them), never
    by reading the organization's or the platform's people one by one."""
    from accounts.models import User
    from transfer import answers, decisions
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
    attempt = decisions.Attempt(login=name, protocol="sftp", ip=None, public_key=None)
    if statement == "decision":
        sql, params = decisions.presented_query(attempt, key.prefix)
    else:
        sql, params = answers.authorized_keys_query(name, key.prefix)
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
    found_key, (person, _) = decisions.find_presented(attempt, key.prefix)
    assert found_key == key
    assert person.username == "p7@gmail.example"


@pytest.mark.django_db(transaction=True)
def test_the_log_row_alone_is_committed_asynchronously(server, bob, bob_password, transfer_on):
    """The sign-in log row's transaction does not wait for the WAL flush; the setting
    ends with that transaction and never reaches the connection's next statements."""
    with CaptureQueriesContext(connection) as queries:
        response = server.authenticate("bob@acme.example", password=bob_password[1])
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        (after,) = cursor.fetchone()

    assert response.status_code == 200
    (insert,) = [q["sql"] for q in queries.captured_queries if "transfersignin" in q["sql"]]
    assert insert.endswith("RETURNING set_config('synchronous_commit', 'off', true)")
    assert after == "on"
    assert bob.transfer_sign_ins.get().allowed is True


def test_a_log_row_naming_a_person_deleted_meanwhile_reads_as_nobody(organization, bob):
    """The log carries no database constraint: a decision logged while its person was
    being deleted can name nobody, and reads so."""
    import uuid

    from django.utils import timezone

    from transfer.models import TransferSignIn
    from transfer.selectors import organization_sign_ins

    TransferSignIn.objects.create(
        organization=organization,
        user_id=uuid.uuid4(),
        login="gone@acme.example",
        protocol="sftp",
        allowed=False,
        reason="unknown_user",
        at=timezone.now(),
    )

    (row,) = organization_sign_ins(organization)
    assert row.user is None
    assert row.login == "gone@acme.example"
