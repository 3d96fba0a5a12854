"""Fixed-window rate limits shared by every app instance, one round trip per check.

With Redis (REDIS_URL) a check is INCR and EXPIRE in one script, and several checks of
one request (`hit_all`) share it, as may a value the request appends to a list
(`hit_all_appending`, for a buffer written out later); a limit on a client's request
rate may be counted a block of events at a time (`hit_reserving`). Without it, a check
is one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` on the counters table (made by the
accounts app's RateLimitCounter model; config names it only in SQL, as it names the
apps only as strings). PostgreSQL takes the row lock for the increment, so concurrent
requests on any instance count exactly; SQLite (3.35 or later, for RETURNING)
serialises writers. Django's database cache is not used: its
`set` counts the whole table to decide whether to cull it, on every call.

Call `hit` outside any transaction that may roll back (the SCIM gate and the console's
login view do): a rolled-back count is a count lost, and on PostgreSQL an open
transaction would hold the counter's row lock until it ends.
"""

import functools
import hashlib
import os
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from redis.commands.core import Script

from config import metrics
from config.env import RATE_PATTERN

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Counter rows of ended windows are deleted at most this often per process.
PRUNE_INTERVAL_SECONDS = 600

# The limiter's clock, named so that a test can hold every counter in one window.
clock = time.time


@dataclass(frozen=True)
class Rate:
    limit: int
    window: int  # seconds

    @classmethod
    def parse(cls, text: str) -> "Rate":
        """'10/5m' is ten per five minutes; '100/s' a hundred per second."""
        return _parse_rate(text)


@functools.lru_cache(maxsize=256)
def _parse_rate(text: str) -> Rate:
    # A request checks its limits against settings' text: parsed once per process.
    match = RATE_PATTERN.match(text or "")
    if not match:
        raise ValueError(f"Rate {text!r} is not of the form COUNT/[N]UNIT, e.g. 10/5m.")
    count, multiple, unit = match.groups()
    return Rate(limit=int(count), window=int(multiple or 1) * _UNIT_SECONDS[unit])


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int
    # Events counted in this window, this one included.
    count: int = 0
    limit: int = 0

    @property
    def first_refusal(self) -> bool:
        """This event is the first one refused in its window (say so once, not each time)."""
        return self.count == self.limit + 1


def _bucket(scope: str, key: str) -> str:
    return f"{scope}:{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def _window_start(now: int, rate: Rate) -> int:
    return now - now % rate.window


def hit(scope: str, key: str, rate: Rate) -> Verdict:
    """Count one event for `key` in `scope`; refuse once the window's limit is passed."""
    (verdict,) = hit_all([(scope, key, rate)])
    return verdict


def hit_all(
    checks: list[tuple[str, str, Rate]], *, counting: list[bool] | None = None
) -> list[Verdict]:
    """`hit` for several limits at once, in one round trip with Redis (one script): for a
    request that counts against more than one limit. Every limit is counted, whatever the
    others say; the verdicts come in the order of `checks`.

    With `counting`, a check whose flag is false is only looked at: its verdict is what
    `hit` would say, and nothing is counted (a login that succeeded, checked against a
    limit of failed ones in the same round trip as the limits it does count against).
    """
    verdicts, _ = hit_all_appending(checks, counting=counting)
    return verdicts


@dataclass(frozen=True)
class Append:
    """A value for a Redis list, appended in the round trip that counts a request, when
    every limit allows the request and the list holds fewer than `max_length` values
    (a buffer that must not grow without bound)."""

    name: str
    value: str
    max_length: int


def hit_all_appending(
    checks: list[tuple[str, str, Rate]],
    *,
    counting: list[bool] | None = None,
    append: Append | None = None,
) -> tuple[list[Verdict], int]:
    """`hit_all`, and with Redis, `append` in the same script: the verdicts, and the
    list's length after the value was appended, or 0 when it was not (no Redis, a limit
    refused the request, or the list was full)."""
    counting = counting if counting is not None else [True] * len(checks)
    now = int(clock())
    windows = [_window_start(now, rate) for _, _, rate in checks]
    buckets = [_bucket(scope, key) for scope, key, _ in checks]
    counters = [
        (bucket, start, start + rate.window - now + 1, counted, rate.limit)
        for bucket, start, (_, _, rate), counted in zip(
            buckets, windows, checks, counting, strict=True
        )
    ]
    redis = _redis_cache()
    appended = 0
    if redis is not None:
        counts, appended = _redis_hits(redis, counters, append)
    else:
        counts = [
            _database_hit(bucket, start, start + rate.window, now)
            if counted
            else _database_peek(bucket, start) + 1
            for (bucket, start, _, counted, _), (_, _, rate) in zip(counters, checks, strict=True)
        ]
    verdicts = [
        _verdict(scope, rate, start, now, count)
        for (scope, _, rate), start, count in zip(checks, windows, counts, strict=True)
    ]
    return verdicts, appended


def _verdict(scope: str, rate: Rate, start: int, now: int, count: int) -> Verdict:
    allowed = count <= rate.limit
    if not allowed:
        metrics.RATE_LIMIT_REFUSALS.labels(limit=scope).inc()
    return Verdict(
        allowed=allowed, retry_after=start + rate.window - now, count=count, limit=rate.limit
    )


# -- Reserved counts ----------------------------------------------------------------------
#
# A limit on a client's request rate (thousands a minute for one transfer key) need not
# cost every request a round trip: a process counts a block of events in Redis at once
# and hands them out one by one. The block is a hundredth of the limit, at most
# RESERVATION_MAX, so a limit under 200 a window is counted exactly as `hit` counts it.
# Nothing passes the limit: each event gets its own count, as with `hit`. What a process
# reserved and did not use still counts, so near the limit a request may be refused by
# up to one block per process early.
RESERVATION_SHARE = 100
RESERVATION_MAX = 100


@dataclass
class _Reservation:
    window_end: int
    next_count: int
    last_count: int


# By the counter's Redis key: its cache's prefix, its bucket and its window.
_reservations: dict[str, _Reservation] = {}
_reservations_lock = threading.Lock()
# A child process starts with no reservation: its parent's counts are its parent's.
os.register_at_fork(after_in_child=lambda: _reservations.clear())


def reservation_size(rate: Rate) -> int:
    return max(1, min(rate.limit // RESERVATION_SHARE, RESERVATION_MAX))


def hit_reserving(scope: str, key: str, rate: Rate) -> Verdict:
    """`hit` for a limit on a client's request rate, with Redis counted a block of
    `reservation_size(rate)` events at a time (above): one round trip per block instead
    of one per request. Without Redis, or for a block of one, it is `hit`."""
    size = reservation_size(rate)
    redis = _redis_cache()
    if redis is None or size == 1:
        return hit(scope, key, rate)
    now = int(clock())
    start = _window_start(now, rate)
    bucket = _bucket(scope, key)
    counter = redis.make_key(f"ratelimit:{bucket}:{start}")
    with _reservations_lock:
        reserved = _reservations.get(counter)
        if reserved is None or reserved.next_count > reserved.last_count:
            if len(_reservations) >= 1024:
                _forget_ended_reservations(now)
            (last,), _ = _redis_hits(
                redis, [(bucket, start, start + rate.window - now + 1, size, rate.limit)], None
            )
            reserved = _Reservation(start + rate.window, last - size + 1, last)
            _reservations[counter] = reserved
        count = reserved.next_count
        reserved.next_count += 1
    return _verdict(scope, rate, start, now, count)


def _forget_ended_reservations(now: int) -> None:
    for counter, reserved in list(_reservations.items()):
        if reserved.window_end <= now:
            del _reservations[counter]


def refund(scope: str, key: str, rate: Rate) -> None:
    """Take back one event counted by `hit` in the current window.

    For limits that must count an attempt before its outcome is known (so that parallel
    attempts cannot all slip under the limit) but mean to count only failures: a
    password that turned out right is given back.
    """
    window_start = _window_start(int(clock()), rate)
    bucket = _bucket(scope, key)
    redis = _redis_cache()
    if redis is not None:
        key = redis.make_key(f"ratelimit:{bucket}:{window_start}")
        client = _redis_client(redis)
        _scripts(client).refund(keys=[key], client=client)
        return
    with connection.cursor() as cursor:
        cursor.execute(_REFUND, [bucket, window_start])


def peek(scope: str, key: str, rate: Rate) -> bool:
    """Whether `key` is over its limit now, without counting an event."""
    window_start = _window_start(int(clock()), rate)
    bucket = _bucket(scope, key)
    redis = _redis_cache()
    if redis is not None:
        count = _redis_client(redis).get(redis.make_key(f"ratelimit:{bucket}:{window_start}"))
        return int(count or 0) > rate.limit
    return _database_peek(bucket, window_start) > rate.limit


def _database_peek(bucket: str, window_start: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_PEEK, [bucket, window_start])
        row = cursor.fetchone()
    return row[0] if row else 0


# -- Redis ------------------------------------------------------------------------------


def _redis_cache() -> RedisCache | None:
    """The shared cache when it is Redis (settings.REDIS_URL), else None."""
    backend = caches["default"]
    return backend if isinstance(backend, RedisCache) else None


def _redis_client(redis: RedisCache):
    # The cache's own connection pool: no second pool or connection per process.
    return redis._cache.get_client(write=True)


# Only an existing counter: DECR on a window that already ended would create a key with
# no expiry.
_REDIS_REFUND = (
    "if redis.call('EXISTS', KEYS[1]) == 1 and tonumber(redis.call('GET', KEYS[1])) > 0 "
    "then return redis.call('DECR', KEYS[1]) end return 0"
)


# INCRBY and EXPIRE each of the first ARGV[1] keys (ARGV: its ttl, the events to count,
# its limit), or only read it (ttl, 0, limit), atomically as a MULTI/EXEC would, in one
# command: a script costs the client far less than a transaction's five or more. With one
# key more, its list gets ARGV's last but one value when no count passed its limit and
# the list is shorter than ARGV's last. The counts come back, then the list's length
# after the append (0: nothing appended).
_REDIS_HITS = (
    "local n = tonumber(ARGV[1]) local counts = {} local within = true "
    "for i = 1, n do "
    "local key, at = KEYS[i], 3 * i - 1 "
    "if ARGV[at + 1] ~= '0' then "
    "counts[i] = redis.call('INCRBY', key, ARGV[at + 1]) redis.call('EXPIRE', key, ARGV[at]) "
    "else counts[i] = tonumber(redis.call('GET', key) or '0') + 1 end "
    "if counts[i] > tonumber(ARGV[at + 2]) then within = false end "
    "end "
    "local appended = 0 "
    "if #KEYS > n and within "
    "and redis.call('LLEN', KEYS[n + 1]) < tonumber(ARGV[3 * n + 3]) then "
    "appended = redis.call('RPUSH', KEYS[n + 1], ARGV[3 * n + 2]) end "
    "counts[n + 1] = appended return counts"
)


@dataclass(frozen=True)
class _Scripts:
    hits: Script
    refund: Script


@functools.lru_cache(maxsize=8)
def _scripts(client) -> _Scripts:
    """The scripts, registered with the client once (EVALSHA, loaded again by redis-py
    if the server forgot them)."""
    return _Scripts(
        hits=client.register_script(_REDIS_HITS), refund=client.register_script(_REDIS_REFUND)
    )


def _redis_hits(
    redis: RedisCache, counters: list[tuple[str, int, int, int, int]], append: Append | None
) -> tuple[list[int], int]:
    """Count the events (1 for `hit`, a block for `hit_reserving`) of each (bucket, window
    start, ttl, events, limit) counter and set its expiry, or for 0 events read it and add
    the event it would count, and `append`, in one command: the counts and the list's
    length after the append (0: not appended)."""
    client = _redis_client(redis)
    keys = [redis.make_key(f"ratelimit:{bucket}:{start}") for bucket, start, *_ in counters]
    args = [len(counters)]
    for _, _, ttl, events, limit in counters:
        args += [ttl, int(events), limit]
    if append is not None:
        keys.append(redis.make_key(append.name))
        args += [append.value, append.max_length]
    *counts, appended = _scripts(client).hits(keys=keys, args=args, client=client)
    return [int(count) for count in counts], int(appended)


def redis_list_client(name: str):
    """(client, key) for the Redis list `name` that `Append` writes to, on the shared
    cache's connections; None without Redis."""
    redis = _redis_cache()
    if redis is None:
        return None
    return _redis_client(redis), redis.make_key(name)


# -- Database ---------------------------------------------------------------------------

_next_prune = 0.0

# One statement: the row lock taken ON CONFLICT makes concurrent increments exact. A
# counter from a later window (another instance's clock runs ahead) is counted into,
# never reset back.
_UPSERT = (
    "INSERT INTO accounts_ratelimitcounter (bucket, window_start, hits, expires_at) "
    "VALUES (%s, %s, 1, %s) "
    "ON CONFLICT (bucket) DO UPDATE SET "
    "hits = CASE WHEN accounts_ratelimitcounter.window_start >= excluded.window_start "
    "THEN accounts_ratelimitcounter.hits + 1 ELSE 1 END, "
    "window_start = CASE WHEN accounts_ratelimitcounter.window_start >= excluded.window_start "
    "THEN accounts_ratelimitcounter.window_start ELSE excluded.window_start END, "
    "expires_at = CASE WHEN accounts_ratelimitcounter.expires_at >= excluded.expires_at "
    "THEN accounts_ratelimitcounter.expires_at ELSE excluded.expires_at END "
    "RETURNING hits"
)


_PEEK = "SELECT hits FROM accounts_ratelimitcounter WHERE bucket = %s AND window_start = %s"
_REFUND = (
    "UPDATE accounts_ratelimitcounter SET hits = hits - 1 "
    "WHERE bucket = %s AND window_start = %s AND hits > 0"
)
_PRUNE = "DELETE FROM accounts_ratelimitcounter WHERE expires_at < %s"


def _database_hit(bucket: str, window_start: int, window_end: int, now: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [bucket, window_start, window_end])
        count = cursor.fetchone()[0]
    _prune(now)
    return count


def _prune(now: int) -> None:
    global _next_prune
    if now < _next_prune:
        return
    _next_prune = now + PRUNE_INTERVAL_SECONDS
    with connection.cursor() as cursor:
        cursor.execute(_PRUNE, [now])


def client_address(request) -> str:
    """The client's address, as seen by the outermost of TRUSTED_PROXY_COUNT proxies.

    Behind a load balancer REMOTE_ADDR is the balancer, shared by every client. Each
    proxy appends the address it received from, so the entry TRUSTED_PROXY_COUNT from
    the right is the first one a client could not forge; entries left of it are ignored.
    """
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR", "")
