"""Webhook delivery lag: from the commit of a change to its arrival at a receiver.

A paced writer creates users through SCIM at a steady rate (50 per second); each create
commits one `user.created` event, and the webhook endpoint registered for the bench
organization is delivered by a real `manage.py run_worker` (procrastinate on the same
PostgreSQL). The receiver is a threaded http.server in this process on 127.0.0.1, which
records when each delivery arrived; the writer records when each create's response
came back, after its commit. Lag = arrival - response; `occurred_at` (set inside the
transaction, before the commit) gives an upper bound beside it. Every event must arrive
within DRAIN_SECONDS of the last write; the report flags a run where one did not.
"""

import asyncio
import json
import statistics
import time
from datetime import datetime

import httpx

from bench import seed
from bench.receiver import Receiver, drop_leftover_jobs, register_endpoint
from bench.scenarios import SCIM, USER_SCHEMA, Budget, ratio
from bench.server import Server

RATE_PER_S = 50
STEADY_RATE_PER_S = 10
SECONDS = 30.0
SECONDS_QUICK = 10.0
# After the last write, how long the deliveries still queued may take: at 50 events/s
# the worker can fall behind, and the backlog is part of what is measured.
DRAIN_SECONDS = 180.0
WARMUP_EVENTS = 5


class ArrivalsByUser(Receiver):
    """The first arrival of each `user.created` event, by user id."""

    def __init__(self):
        super().__init__()
        self.arrivals: dict[str, float] = {}
        self.occurred: dict[str, float] = {}
        self.duplicates = 0
        self.unsigned = 0

    def record(self, body: dict, arrived: float, *, status: int, signed: bool) -> None:
        user_id = body["data"]["user"]["id"]
        self.unsigned += not signed
        if user_id in self.arrivals:
            self.duplicates += 1
            return
        self.arrivals[user_id] = arrived
        self.occurred[user_id] = datetime.fromisoformat(body["occurred_at"]).timestamp()

    def wait_for(self, user_ids, timeout: float) -> bool:
        return self.wait_until(lambda: all(u in self.arrivals for u in user_ids), timeout)


def _user(name: str) -> str:
    return json.dumps(
        {
            "schemas": [USER_SCHEMA],
            "userName": name,
            "emails": [{"value": name, "type": "work", "primary": True}],
            "active": True,
        }
    )


async def _paced_writes(server: Server, tenant: seed.Tenant, prefix: str, count: int, rate):
    """Creates `count` users, one every 1/rate s; returns {user id: response time}."""
    committed: dict[str, float] = {}
    # A new connection per request: gunicorn's sync workers wait on a kept-alive
    # connection, and a paced writer leaves its connections idle between requests.
    async with httpx.AsyncClient(
        base_url=server.base_url,
        headers=tenant.headers(),
        timeout=httpx.Timeout(30.0, pool=None),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=0),
    ) as http:

        async def create(index: int):
            response = await http.post(f"{SCIM}/Users", content=_user(f"{prefix}-{index}"))
            returned = time.time()
            if response.status_code != 201:
                raise RuntimeError(f"POST /Users answered {response.status_code}")
            committed[response.json()["id"]] = returned

        started = time.perf_counter()
        tasks = []
        for index in range(count):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(create(index)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return committed, elapsed


def _percentiles(values: list[float]) -> dict:
    ordered = sorted(values)

    def at(p):
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return round(ordered[rank] * 1000, 1)

    return {"p50_ms": at(50), "p95_ms": at(95), "p99_ms": at(99), "max_ms": at(100)}


def _attempt_starts(user_ids) -> dict[str, float]:
    """When the worker began each delivery (WebhookDelivery.last_attempt_at), by user id."""
    from accounts.events.models import WebhookDelivery

    rows = WebhookDelivery.objects.filter(event__user_id__in=list(user_ids)).values_list(
        "event__user_id", "last_attempt_at"
    )
    return {str(user_id): started.timestamp() for user_id, started in rows if started}


def _measure(server, tenant, receiver, prefix: str, rate: int, count: int) -> dict:
    committed, elapsed = asyncio.run(_paced_writes(server, tenant, prefix, count, rate))
    receiver.wait_for(committed, timeout=DRAIN_SECONDS)
    delivered = [user_id for user_id in committed if user_id in receiver.arrivals]
    if not delivered:
        raise RuntimeError(f"webhooks: none of {count} events delivered (see the worker log)")
    lags = [receiver.arrivals[u] - committed[u] for u in delivered]
    from_occurred = [receiver.arrivals[u] - receiver.occurred[u] for u in delivered]
    starts = _attempt_starts(delivered)
    queued = [starts[u] - committed[u] for u in delivered if u in starts]
    sending = [receiver.arrivals[u] - starts[u] for u in delivered if u in starts]
    # What the worker sustained: deliveries over the time from the first commit to the
    # last arrival. Below the write rate, deliveries queue up and the lag grows.
    span = max(receiver.arrivals[u] for u in delivered) - min(committed.values())
    return {
        "rate_per_s": rate,
        "delivered_per_s": round(len(delivered) / span, 1),
        "events": count,
        "write_seconds": round(elapsed, 2),
        "achieved_rate_per_s": round(count / elapsed, 1),
        # Every event must arrive; the report says so when one did not in time.
        "delivered": len(delivered),
        "all_delivered": len(delivered) == count,
        "duplicates": receiver.duplicates,
        "unsigned": receiver.unsigned,
        "lag": _percentiles(lags),
        "lag_from_occurred_at": _percentiles(from_occurred),
        # The two parts of the lag: commit -> the worker starts the attempt (the queue's
        # notification and fetch), then the attempt itself (lock, sign, send).
        "queued": _percentiles(queued),
        "attempt": _percentiles(sending),
        "median_queued_share": ratio(statistics.median(queued), statistics.median(lags)),
    }


def delivery_lag(server: Server, worker_started, budget: Budget, run_id: str, *, quick: bool):
    """`worker_started()` is a context manager running the job worker.

    First a tenth of the events at STEADY_RATE_PER_S, a rate one worker keeps up with,
    for the lag of one delivery; then RATE_PER_S, the rate the issue asks about.
    """
    from accounts.models import Organization

    seconds = SECONDS_QUICK if quick else SECONDS
    organization, _ = Organization.objects.get_or_create(
        slug="bench-webhooks", defaults={"name": "Bench webhooks"}
    )
    tenant = seed._tenant(organization, 0)
    with ArrivalsByUser() as receiver:
        register_endpoint(organization, receiver.url, ["user.created"])
        dropped = drop_leftover_jobs()
        with worker_started():
            warm, _ = asyncio.run(
                _paced_writes(server, tenant, f"hook-{run_id}-warm", WARMUP_EVENTS, RATE_PER_S)
            )
            if not receiver.wait_for(warm, timeout=60):
                raise RuntimeError("the job worker delivered nothing within 60 s (see its log)")
            steady_count = int(STEADY_RATE_PER_S * seconds / 2)
            steady = _measure(
                server, tenant, receiver, f"hook-{run_id}-s", STEADY_RATE_PER_S, steady_count
            )
            result = _measure(
                server, tenant, receiver, f"hook-{run_id}", RATE_PER_S, int(RATE_PER_S * seconds)
            )
    return {**result, "steady": steady, "leftover_jobs_cancelled": dropped}
