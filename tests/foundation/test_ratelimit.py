"""Fixed-window rate limits shared by every instance, keyed on the client's real address."""

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from accounts.models import RateLimitCounter
from config import ratelimit
from config.ratelimit import Rate, client_address, hit, peek
from tests.conftest import record_redis_commands, use_redis_cache


@pytest.mark.parametrize(
    ("text", "limit", "window"),
    [("10/5m", 10, 300), ("100/s", 100, 1), ("3/h", 3, 3600), (" 7 / 2d ", 7, 172800)],
)
def test_rate_parse(text, limit, window):
    assert Rate.parse(text) == Rate(limit=limit, window=window)


@pytest.mark.parametrize("text", ["", "10", "10/5", "ten/m", "10/5w", "-1/m", "10/0m"])
def test_rate_parse_refuses_malformed_rates(text):
    with pytest.raises(ValueError, match="COUNT/"):
        Rate.parse(text)


@pytest.fixture
def redis_counters(db, settings):
    """Redis (REDIS_TEST_URL) as the shared cache, so the counters live there."""
    use_redis_cache(settings)


@pytest.fixture(params=["database", "redis"])
def store(request, db):
    """The counters' store: the counters table, or Redis."""
    if request.param == "redis":
        request.getfixturevalue("redis_counters")
    return request.param


def test_hit_allows_the_limit_then_refuses_until_the_window_ends(store, monkeypatch):
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020)
    rate = Rate(limit=2, window=60)
    verdicts = [hit("scope", "key", rate) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert verdicts[-1].retry_after == 60 - 1_000_020 % 60
    assert peek("scope", "key", rate)
    assert hit("scope", "other-key", rate).allowed
    assert hit("other-scope", "key", rate).allowed
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020 + 60)
    assert hit("scope", "key", rate).allowed
    assert not peek("scope", "key", rate)


def test_a_refund_gives_one_event_back_in_the_current_window(store, monkeypatch):
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020)
    rate = Rate(limit=2, window=60)
    hit("scope", "key", rate)
    hit("scope", "key", rate)
    ratelimit.refund("scope", "key", rate)

    verdicts = [hit("scope", "key", rate) for _ in range(2)]

    assert [(v.allowed, v.count) for v in verdicts] == [(True, 2), (False, 3)]
    assert verdicts[-1].first_refusal
    assert not hit("scope", "key", rate).first_refusal


def test_a_refund_after_the_window_ended_creates_nothing(store, monkeypatch):
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020)
    rate = Rate(limit=1, window=60)
    hit("scope", "key", rate)
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020 + 60)

    ratelimit.refund("scope", "key", rate)

    # No counter below zero, and no extra allowance in the new window.
    assert [hit("scope", "key", rate).allowed for _ in range(2)] == [True, False]


def test_a_database_check_is_one_upsert_and_never_touches_the_cache_table(db, monkeypatch):
    monkeypatch.setattr(ratelimit, "_next_prune", float("inf"))
    rate = Rate(limit=5, window=60)
    with CaptureQueriesContext(connection) as queries:
        counts = [hit("scope", "key", rate) for _ in range(3)]
    assert [v.allowed for v in counts] == [True, True, True]
    assert len(queries) == 3
    assert all(q["sql"].startswith("INSERT INTO") for q in queries.captured_queries)
    assert all("ON CONFLICT" in q["sql"] for q in queries.captured_queries)
    assert RateLimitCounter.objects.get().hits == 3


def test_a_redis_check_is_one_command_that_counts_and_sets_the_expiry(redis_counters, monkeypatch):
    sent = record_redis_commands(monkeypatch)
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020)
    verdicts = ratelimit.hit_all(
        [("scope", "key", Rate(limit=5, window=60)), ("other", "key", Rate(limit=1, window=60))]
    )
    sent_before_the_script_was_known = sent.count("SCRIPT LOAD")

    assert [(v.allowed, v.count) for v in verdicts] == [(True, 1), (True, 1)]
    # One EVALSHA; the first one ever may be told NOSCRIPT and load the script first.
    assert sent.count("EVALSHA") - sent_before_the_script_was_known == 1
    assert set(sent) <= {"EVALSHA", "SCRIPT LOAD"}
    for scope in ("scope", "other"):
        key = caches["default"].make_key(f"ratelimit:{ratelimit._bucket(scope, 'key')}:1000020")
        assert 0 < caches["default"]._cache.get_client().ttl(key) <= 61


def test_a_redis_check_survives_the_server_forgetting_its_scripts(redis_counters, monkeypatch):
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020)
    rate = Rate(limit=5, window=60)
    hit("scope", "key", rate)
    caches["default"]._cache.get_client().script_flush()

    assert hit("scope", "key", rate).count == 2


def test_ended_windows_are_pruned_from_the_counters_table(db, monkeypatch):
    rate = Rate(limit=5, window=60)
    monkeypatch.setattr(ratelimit, "_next_prune", float("inf"))
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020)
    hit("scope", "old-key", rate)
    later = 1_000_020 + 3600
    monkeypatch.setattr("config.ratelimit.clock", lambda: later)
    monkeypatch.setattr(ratelimit, "_next_prune", 0.0)
    hit("scope", "new-key", rate)
    assert list(RateLimitCounter.objects.values_list("bucket", flat=True)) == [
        ratelimit._bucket("scope", "new-key")
    ]
    assert ratelimit._next_prune == later + ratelimit.PRUNE_INTERVAL_SECONDS


def test_a_counter_ahead_of_this_clock_is_counted_into_not_reset(db, monkeypatch):
    # Another instance whose clock runs a window ahead already started the next window.
    rate = Rate(limit=5, window=60)
    monkeypatch.setattr(ratelimit, "_next_prune", float("inf"))
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_080)
    hit("scope", "key", rate)
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_050)
    hit("scope", "key", rate)
    counter = RateLimitCounter.objects.get()
    assert (counter.hits, counter.window_start) == (2, 1_000_080 - 1_000_080 % 60)


def test_default_token_rate_admits_entra_25_requests_a_second_with_headroom():
    from django.conf import settings as django_settings

    rate = Rate.parse(django_settings.SCIM_TOKEN_RATE)
    assert rate.limit / rate.window >= 2 * 25


def _request(remote="10.0.0.1", forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_client_address_is_remote_addr_without_trusted_proxies(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(_request(forwarded="198.51.100.7")) == "10.0.0.1"


def test_client_address_behind_one_proxy_is_the_address_it_appended(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The first entry was sent by the client and could say anything.
    request = _request(forwarded="1.2.3.4, 198.51.100.7")
    assert client_address(request) == "198.51.100.7"


def test_client_address_behind_two_proxies(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(_request(forwarded="1.2.3.4, 198.51.100.7, 10.1.1.1")) == "198.51.100.7"


def test_client_address_with_fewer_hops_than_proxies_takes_the_first(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(_request(forwarded="198.51.100.7")) == "198.51.100.7"


def test_client_address_without_the_header_falls_back_to_remote_addr(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(_request()) == "10.0.0.1"


def test_console_login_behind_a_load_balancer_limits_each_client_separately(client, db, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.CONSOLE_LOGIN_ADDRESS_RATE = "2/m"

    def attempt(client_ip, email):
        return client.post(
            "/console/login/",
            {"email": email, "password": "wrong-password-000"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=client_ip,
        )

    for n in range(2):
        assert attempt("198.51.100.7", f"a{n}@acme.example").status_code == 400
    assert attempt("198.51.100.7", "a9@acme.example").status_code == 429
    assert attempt("198.51.100.8", "b@acme.example").status_code == 400


def test_a_check_that_only_looks_counts_nothing_and_says_what_hit_would(store, monkeypatch):
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020)
    rate = Rate(limit=2, window=60)
    hit("scope", "key", rate)

    (looked,) = ratelimit.hit_all([("scope", "key", rate)], counting=[False])
    assert (looked.allowed, looked.count) == (True, 2)
    hit("scope", "key", rate)
    (looked,) = ratelimit.hit_all([("scope", "key", rate)], counting=[False])
    assert (looked.allowed, looked.count, looked.retry_after) == (False, 3, 60)
    # Looking twice counted nothing.
    assert hit("scope", "key", rate).count == 3
    # A counter never counted is looked at as empty.
    (fresh,) = ratelimit.hit_all([("scope", "other", rate)], counting=[False])
    assert (fresh.allowed, fresh.count) == (True, 1)


def test_a_value_is_appended_in_the_counting_round_trip_only_within_the_limits(settings):
    use_redis_cache(settings)
    rate = ratelimit.Rate(limit=2, window=60)

    def hit(value, max_length=10):
        append = ratelimit.Append(name="buffer", value=value, max_length=max_length)
        return ratelimit.hit_all_appending([("scope", "key", rate)], append=append)

    client, name = ratelimit.redis_list_client("buffer")
    assert [verdict.allowed for verdict in hit("a")[0]] == [True]
    assert hit("b")[1] == 2
    refused, appended = hit("c")
    assert (refused[0].allowed, appended) == (False, 0)
    assert client.lrange(name, 0, -1) == [b"a", b"b"]

    # A full list takes nothing more, whatever the limits say.
    other = ratelimit.Append(name="buffer", value="d", max_length=2)
    _, appended = ratelimit.hit_all_appending([("scope", "other", rate)], append=other)
    assert appended == 0
    assert client.llen(name) == 2


def test_without_redis_nothing_is_appended(db):
    rate = ratelimit.Rate(limit=2, window=60)
    append = ratelimit.Append(name="buffer", value="a", max_length=10)

    verdicts, appended = ratelimit.hit_all_appending([("scope", "key", rate)], append=append)

    assert (verdicts[0].allowed, appended) == (True, 0)
    assert ratelimit.redis_list_client("buffer") is None


# -- Reserved counts: a request-rate limit counted in Redis a block at a time ------------


@pytest.mark.parametrize(
    ("limit", "size"), [(10, 1), (199, 1), (200, 2), (6000, 60), (10_000, 100), (10**6, 100)]
)
def test_a_reservation_is_a_hundredth_of_the_limit_at_most_a_hundred(limit, size):
    assert ratelimit.reservation_size(Rate(limit=limit, window=60)) == size


def test_a_reserving_check_counts_in_redis_once_per_block(redis_counters, monkeypatch):
    monkeypatch.setattr("config.ratelimit._reservations", {})
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020)
    rate = Rate(limit=6000, window=60)
    sent = record_redis_commands(monkeypatch)

    verdicts = [ratelimit.hit_reserving("scope", "key", rate) for _ in range(121)]

    assert [v.count for v in verdicts] == list(range(1, 122))
    assert all(v.allowed and v.retry_after == 60 - 1_000_020 % 60 for v in verdicts)
    # Three blocks of 60: the first, the second, and the one the 121st event opened.
    assert sent.count("EVALSHA") == 3
    key = caches["default"].make_key(f"ratelimit:{ratelimit._bucket('scope', 'key')}:1000020")
    client = caches["default"]._cache.get_client()
    assert int(client.get(key)) == 180
    assert 0 < client.ttl(key) <= 61


def test_reserving_processes_never_let_more_than_the_limit_through(redis_counters, monkeypatch):
    """Two processes (each its own reservations) share one limit: together they are
    allowed no more than it, and each event has a count of its own."""
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020)
    rate = Rate(limit=200, window=60)
    processes = [{}, {}]
    verdicts = []
    for index in range(300):
        monkeypatch.setattr("config.ratelimit._reservations", processes[index % 2])
        verdicts.append(ratelimit.hit_reserving("scope", "key", rate))

    allowed = [v for v in verdicts if v.allowed]
    # Up to one unused block (two events) per process may be refused early.
    assert 200 - 2 * 2 <= len(allowed) <= 200
    assert all(v.count <= 200 for v in allowed)
    assert len({v.count for v in verdicts}) == 300
    assert sum(v.first_refusal for v in verdicts) == 1


def test_a_reservation_ends_with_its_window(redis_counters, monkeypatch):
    monkeypatch.setattr("config.ratelimit._reservations", {})
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020)
    rate = Rate(limit=200, window=60)
    for _ in range(201):
        last = ratelimit.hit_reserving("scope", "key", rate)
    assert (last.allowed, last.count) == (False, 201)

    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020 + 60)
    verdict = ratelimit.hit_reserving("scope", "key", rate)

    assert (verdict.allowed, verdict.count) == (True, 1)


def test_reservations_of_ended_windows_are_forgotten(redis_counters, monkeypatch):
    reservations = {}
    monkeypatch.setattr("config.ratelimit._reservations", reservations)
    rate = Rate(limit=6000, window=60)
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020)
    for index in range(1024):
        ratelimit.hit_reserving("scope", f"key-{index}", rate)
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020 + 60)

    ratelimit.hit_reserving("scope", "another", rate)

    assert len(reservations) == 1


@pytest.mark.parametrize(
    ("store", "limit"), [("database", 6000), ("database", 150), ("redis", 150)]
)
def test_without_redis_or_under_two_hundred_a_reserving_check_is_hit(
    request, db, monkeypatch, store, limit
):
    if store == "redis":
        request.getfixturevalue("redis_counters")
    monkeypatch.setattr("config.ratelimit._reservations", {})
    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020)
    rate = Rate(limit=limit, window=60)
    sent = record_redis_commands(monkeypatch)

    verdicts = [ratelimit.hit_reserving("scope", "key", rate) for _ in range(3)]

    assert [v.count for v in verdicts] == [1, 2, 3]
    if store == "redis":
        assert sent.count("EVALSHA") == 3
    else:
        assert sent == []
        assert RateLimitCounter.objects.get().hits == 3


def test_a_forked_process_starts_without_its_parents_reservations(redis_counters, monkeypatch):
    import os

    monkeypatch.setattr("config.ratelimit.clock", lambda: 1_000_020)
    ratelimit.hit_reserving("scope", "key", Rate(limit=6000, window=60))
    assert ratelimit._reservations

    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports by its exit status
        os._exit(0 if not ratelimit._reservations else 1)
    _, status = os.waitpid(child, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    ratelimit._reservations.clear()
