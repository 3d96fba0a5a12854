"""Fixed-window rate limits kept in the shared Django cache (Redis or the database).

Every app instance sees the same counters. On Redis the increment is atomic; on the
database cache two racing requests may count once, which only makes a limit slightly
generous, never wrongly strict.
"""

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from config import metrics
from config.env import RATE_PATTERN

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    window: int  # seconds

    @classmethod
    def parse(cls, text: str) -> "Rate":
        """'10/5m' is ten per five minutes; '100/s' a hundred per second."""
        match = RATE_PATTERN.match(text or "")
        if not match:
            raise ValueError(f"Rate {text!r} is not of the form COUNT/[N]UNIT, e.g. 10/5m.")
        count, multiple, unit = match.groups()
        return cls(limit=int(count), window=int(multiple or 1) * _UNIT_SECONDS[unit])


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int


def hit(scope: str, key: str, rate: Rate) -> Verdict:
    """Count one event for `key` in `scope`; refuse once the window's limit is passed."""
    now = int(time.time())
    window_start = now - now % rate.window
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_key = f"ratelimit:{scope}:{digest}:{window_start}"
    if cache.add(cache_key, 1, timeout=rate.window + 1):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, timeout=rate.window + 1)
            count = 1
    allowed = count <= rate.limit
    if not allowed:
        metrics.RATE_LIMIT_REFUSALS.labels(limit=scope).inc()
    return Verdict(allowed=allowed, retry_after=window_start + rate.window - now)


def peek(scope: str, key: str, rate: Rate) -> bool:
    """Whether `key` is over its limit now, without counting an event."""
    now = int(time.time())
    window_start = now - now % rate.window
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return (cache.get(f"ratelimit:{scope}:{digest}:{window_start}") or 0) > rate.limit


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
