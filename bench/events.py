"""Directory-event benchmarks: the outbox's cost on an Okta push, and Events API pages.

The outbox runs the same push against two servers on one database, one with event
writing switched off (bench/settings_without_events.py), alternating rounds so drift
hits both alike. The page benchmark bulk-inserts events (a fixture, not domain writes)
and times a page of 100 at the start of the stream and after the 100,000th event.
"""

import statistics
import time

import httpx
from django.utils import timezone

from bench import load, seed
from bench.scenarios import Budget, _push_operation, median_ms, ratio
from bench.server import Server

OUTBOX_CONCURRENCY = 8
# Short rounds on a shared 2-core machine vary by a third from one to the next; five
# alternating rounds, each after a warm-up, and their medians.
OUTBOX_ROUNDS = 5
STREAM_EVENTS = 100_000
STREAM_EVENTS_QUICK = 20_000


def outbox_overhead(on: Server, off: Server, data: seed.Dataset, budget: Budget, run_id) -> dict:
    throughput = {"on": [], "off": []}
    for round_number in range(OUTBOX_ROUNDS):
        order = [("off", off), ("on", on)] if round_number % 2 == 0 else [("on", on), ("off", off)]
        for name, server in order:
            sample = load.run(
                name=f"push-events-{name}",
                operation=_push_operation(f"{run_id}-{name}{round_number}", OUTBOX_CONCURRENCY),
                operations=budget.push_operations,
                base_url=server.base_url,
                headers=data.push.headers(),
                concurrency=OUTBOX_CONCURRENCY,
                max_seconds=budget.seconds,
                warmup=2,
            ).require(200, 201)
            throughput[name].append(sample.throughput)
    medians = {name: round(statistics.median(values), 1) for name, values in throughput.items()}
    return {
        "concurrency": OUTBOX_CONCURRENCY,
        "rounds": OUTBOX_ROUNDS,
        "throughput_per_s": {name: [round(v, 1) for v in vs] for name, vs in throughput.items()},
        "median_throughput_per_s": medians,
        "on_over_off": ratio(medians["on"], medians["off"]),
        "target": 0.9,
    }


def _seed_events(organization, count: int) -> None:
    from django.db import transaction

    from accounts.events.models import DirectoryEvent, EventType

    if DirectoryEvent.objects.filter(organization=organization).count() >= count:
        return
    user = {"id": "00000000-0000-0000-0000-000000000000", "username": "seed", "version": 1}
    for start in range(0, count, seed.BATCH):
        with transaction.atomic():
            DirectoryEvent.objects.bulk_create(
                DirectoryEvent(
                    organization=organization,
                    type=EventType.USER_UPDATED,
                    resource_id=user["id"],
                    resource_version=index,
                    data={"user": user, "changes": ["title"]},
                    actor_type="system",
                    actor_label="bench",
                )
                for index in range(start, min(count, start + seed.BATCH))
            )


def events_pages(server: Server, data: seed.Dataset, budget: Budget, *, quick: bool) -> dict:
    from django.db import connection

    from accounts.events import stream
    from accounts.events.models import DirectoryEvent
    from accounts.models import Organization
    from accounts.services.integrations import api_key_create

    count = STREAM_EVENTS_QUICK if quick else STREAM_EVENTS
    organization, _ = Organization.objects.get_or_create(
        slug=f"bench-events-{count}", defaults={"name": "Bench events"}
    )
    _seed_events(organization, count)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE accounts_directoryevent")
    _, secret = api_key_create(organization=organization, label="bench", actor=seed.ACTOR)
    events = DirectoryEvent.objects.filter(organization=organization).order_by(
        "transaction_id", "id"
    )
    # The page that starts 100 events before the end: the 100,000th event is its last.
    deep = events.values_list("transaction_id", "id")[count - 101]
    cursors = {
        "first": None,
        "deep": stream.encode_cursor(stream.Position(deep[0] or 0, deep[1], timezone.now())),
    }
    samples = {name: [] for name in cursors}
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {secret}"}, timeout=30
    ) as http:
        for _ in range(budget.samples):
            for name, cursor in cursors.items():
                params = {"limit": 100, **({"after": cursor} if cursor else {})}
                started = time.perf_counter()
                response = http.get("/api/v1/events", params=params)
                samples[name].append(time.perf_counter() - started)
                if response.status_code != 200 or len(response.json()["data"]) != 100:
                    raise RuntimeError(f"events page {name}: {response.status_code}")
    medians = {name: median_ms(latencies) for name, latencies in samples.items()}
    return {
        "events": count,
        "median_ms": medians,
        "deep_over_first": ratio(medians["deep"], medians["first"]),
        "target": 1.5,
    }
