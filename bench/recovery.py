"""Webhook outage recovery: how fast a backlog drains once the receiver answers again.

With one and with four `manage.py run_worker` processes (WORKER_CONCURRENCY jobs each),
two measurements under the same worker settings:

- baseline: one fresh `user.updated` event for each of 10,000 users, to a receiver
  answering 204; from the commit that queues them (the workers running and idle) to the
  last arrival. No delivery waits on another's lock: the workers' own rate.
- outage: 10,000 events over 500 resources, 499 users with about 18 `user.updated`
  each and a group with 1,000 `group.member_added` (one push, queued last). The
  receiver answers 503; the first event of every resource is queued, and its delivery
  fails and is scheduled for a retry; then the other events are queued, their
  deliveries waiting on the lock of their resource's first (accounts.events.fanout).
  Then the receiver answers 204: from that moment to the last arrival, each resource's
  versions checked to arrive in order.

Retries come every `Backlog.retry_seconds` (20 s, 5 s in a quick run; set through
WEBHOOK_RETRY_DELAYS for the bench only), longer than the workers take to try every
resource once: at 1 s the retries of the first resources take all of the workers' time,
the later ones wait untried, and the first run out of attempts (in a quick run, 601 of
2,000 deliveries failed for good).

The events are built and queued by bench/backlog.py. A recovery that outlasts its
deadline is reported as such, with what arrived by then.
"""

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from bench import seed
from bench.backlog import Backlog, outage_events, queue, user_updated
from bench.receiver import Receiver, drop_leftover_jobs, register_endpoint
from bench.scenarios import ratio

if TYPE_CHECKING:
    from accounts.models import Group, Organization, User


FULL = Backlog(10_000, 500, 1_000, retry_seconds=20)
QUICK = Backlog(2_000, 100, 200, retry_seconds=5)
PROCESSES = (1, 4)
RETRY_ATTEMPTS = 9
EVENT_TYPES = ["user.updated", "group.member_added"]
RECOVERY_TARGET = 0.8
GROUP_TARGET_PER_S = 50
WORKERS_READY_SECONDS = 60
# The first fetch and the LISTEN follow a worker's registration by a moment.
WORKERS_SETTLE_SECONDS = 1.0
OUTAGE_SECONDS = 120
DRAIN_SECONDS = 900
DRAIN_SECONDS_QUICK = 300


class ArrivalsByResource(Receiver):
    """Successful arrivals by event id, and each resource's versions in arrival order."""

    def __init__(self, answer: int):
        super().__init__(answer)
        self.arrivals: dict[str, float] = {}
        self.versions: dict[str, list[tuple[int, float]]] = {}
        self.refused_resources: set[str] = set()
        self.refused = 0
        self.duplicates = 0

    def record(self, body: dict, arrived: float, *, status: int, signed: bool) -> None:
        # Membership events are the group's: its version orders them.
        resource = body["data"]["group" if body["type"].startswith("group.") else "user"]
        if status != 204:
            self.refused += 1
            self.refused_resources.add(resource["id"])
        elif body["id"] in self.arrivals:
            self.duplicates += 1
        else:
            self.arrivals[body["id"]] = arrived
            self.versions.setdefault(resource["id"], []).append((resource["version"], arrived))

    def out_of_order(self) -> int:
        return sum(
            later <= earlier
            for chain in self.versions.values()
            for (earlier, _), (later, _) in pairwise(chain)
        )


@contextmanager
def _running(start_workers, processes: int, **environment):
    """The worker processes, yielded once each has registered with procrastinate."""
    from django.db.models import Max
    from procrastinate.contrib.django.models import ProcrastinateWorker

    before = ProcrastinateWorker.objects.aggregate(last=Max("id"))["last"] or 0
    with start_workers(processes, **environment) as workers:
        deadline = time.monotonic() + WORKERS_READY_SECONDS
        while ProcrastinateWorker.objects.filter(id__gt=before).count() < processes:
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                raise RuntimeError("recovery: the job workers did not start (see their log)")
            time.sleep(0.1)
        time.sleep(WORKERS_SETTLE_SECONDS)
        yield workers


def _drained(receiver: ArrivalsByResource, started: float, count: int, gave_up: float) -> dict:
    delivered = len(receiver.arrivals)
    ended = max(receiver.arrivals.values()) if delivered == count else gave_up
    return {
        "deliveries": count,
        "delivered": delivered,
        "complete": delivered == count,
        "seconds": round(ended - started, 1),
        "per_s": round(delivered / (ended - started), 1),
        "duplicates": receiver.duplicates,
        "out_of_order": receiver.out_of_order(),
    }


def _statuses(endpoint) -> dict:
    from django.db.models import Count

    rows = endpoint.deliveries.values("status").annotate(count=Count("id"))
    return {row["status"]: row["count"] for row in rows}


@dataclass
class Phases:
    """The directory the events are about, the workers, and how long a drain may take."""

    organization: "Organization"
    users: list["User"]
    group: "Group"
    backlog: Backlog
    # start_workers(processes, **environment) runs them while in the context.
    start_workers: Callable[..., AbstractContextManager]
    seconds: float

    @contextmanager
    def _receiving(self, answer: int, processes: int):
        delays = ",".join([str(self.backlog.retry_seconds)] * RETRY_ATTEMPTS)
        with ArrivalsByResource(answer) as receiver:
            endpoint = register_endpoint(self.organization, receiver.url, EVENT_TYPES)
            drop_leftover_jobs()
            with _running(self.start_workers, processes, WEBHOOK_RETRY_DELAYS=delays) as workers:
                yield receiver, endpoint, workers

    def baseline(self, processes: int) -> dict:
        with self._receiving(204, processes) as (receiver, endpoint, workers):
            started, count = queue([user_updated(u, u.version + 1) for u in self.users])
            if not receiver.wait_until(
                lambda: len(receiver.arrivals) >= count, self.seconds, workers=workers
            ):
                raise RuntimeError(
                    f"recovery baseline: {len(receiver.arrivals)} of {count} deliveries "
                    f"arrived within {self.seconds} s (see the worker log)"
                )
        return {**_drained(receiver, started, count, time.time()), "statuses": _statuses(endpoint)}

    def outage(self, processes: int) -> dict:
        resources = self.backlog.resources
        firsts, rest = outage_events(self.users, self.group, self.backlog)
        with self._receiving(503, processes) as (receiver, endpoint, workers):
            queued, count = queue(firsts)
            every_first_refused = receiver.wait_until(
                lambda: len(receiver.refused_resources) >= resources,
                OUTAGE_SECONDS,
                workers=workers,
            )
            if not every_first_refused:
                raise RuntimeError(
                    f"recovery: {len(receiver.refused_resources)} of {resources} resources "
                    f"had a delivery refused within {OUTAGE_SECONDS} s (see the worker log)"
                )
            count += queue(rest)[1]
            with receiver.lock:
                receiver.answer = 204
                recovered, refused = time.time(), receiver.refused
            receiver.wait_until(
                lambda: len(receiver.arrivals) >= count, self.seconds, workers=workers
            )
            gave_up = time.time()
        return {
            **_drained(receiver, recovered, count, gave_up),
            "outage_seconds": round(recovered - queued, 1),
            "refused": refused,
            "statuses": _statuses(endpoint),
            **self._split(receiver, recovered),
        }

    def _split(self, receiver: ArrivalsByResource, recovered: float) -> dict:
        """The users' deliveries from the recovery to their last arrival, and the group's
        chain: its deliveries behind the first (which is retried with every resource's
        first), from the first of them to arrive to the last."""
        group_id, group_events = str(self.group.pk), self.backlog.group_events
        users = [
            arrived
            for resource, chain in receiver.versions.items()
            if resource != group_id
            for _, arrived in chain
        ]
        chain = [arrived for _, arrived in receiver.versions.get(group_id, [])][1:]
        return {
            "users": {"deliveries": self.backlog.events - group_events, **_rate(users, recovered)},
            "group": {"deliveries": group_events - 1, **_rate(chain, min(chain, default=0))},
        }


def _rate(arrivals: list[float], since: float) -> dict:
    span = max(arrivals, default=since) - since
    return {
        "delivered": len(arrivals),
        "seconds": round(span, 1),
        "per_s": round(len(arrivals) / span, 1) if span else 0.0,
    }


def _added_job_triggers() -> list[str]:
    """Triggers on procrastinate_jobs that procrastinate's own schema does not create,
    such as one that wakes the workers when a locked job leaves 'doing'."""
    import re
    from pathlib import Path

    import procrastinate
    from django.db import connection

    schema = Path(procrastinate.__file__).parent / "sql" / "schema.sql"
    own = set(re.findall(r"CREATE TRIGGER (\w+)", schema.read_text()))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger "
            "WHERE tgrelid = 'procrastinate_jobs'::regclass AND NOT tgisinternal"
        )
        return sorted(name for (name,) in cursor.fetchall() if name not in own)


def outage_recovery(start_workers, *, quick: bool) -> dict:
    """`start_workers(processes, **environment)` is a context manager running them."""
    from django.conf import settings
    from django.db import transaction

    from accounts.models import User

    backlog = QUICK if quick else FULL
    with transaction.atomic():
        organization, _ = seed._organization(f"bench-recovery-{backlog.events}", backlog.events)
        group = seed._group(organization, backlog.group_events)
    phases = Phases(
        organization=organization,
        users=list(User.objects.filter(organization=organization).order_by("created_at", "id")),
        group=group,
        backlog=backlog,
        start_workers=start_workers,
        seconds=DRAIN_SECONDS_QUICK if quick else DRAIN_SECONDS,
    )
    runs = []
    for processes in PROCESSES:
        print(f"  {processes} worker process(es): baseline, then outage", flush=True)
        baseline = phases.baseline(processes)
        outage = phases.outage(processes)
        runs.append(
            {
                "processes": processes,
                "baseline": baseline,
                "outage": outage,
                "recovery_over_baseline": ratio(outage["per_s"], baseline["per_s"]),
            }
        )
    return {
        **backlog.__dict__,
        "concurrency": settings.WORKER_CONCURRENCY,
        "poll_seconds": settings.WORKER_POLL_SECONDS,
        "added_job_triggers": _added_job_triggers(),
        "runs": runs,
        "target": RECOVERY_TARGET,
        "group_target_per_s": GROUP_TARGET_PER_S,
    }
