"""The recovery scenario's events, built by the outbox's functions and queued by the fanout.

A fixture, not domain writes: the events are bulk-inserted and no user or group is
saved, but each event carries what a real change would (the resource's next version),
and the deliveries and procrastinate jobs are exactly what production queues.
"""

import copy
import random
import time
from dataclasses import dataclass

from bench import seed


@dataclass(frozen=True)
class Backlog:
    events: int
    # One group and `resources - 1` users, which share the other events evenly.
    resources: int
    group_events: int
    retry_seconds: int


def user_updated(user, version: int):
    from accounts.events.models import EventType
    from accounts.events.outbox import user_event

    user = copy.copy(user)  # as the update would leave it; the fixture saves no user
    user.version = version
    return user_event(user=user, type=EventType.USER_UPDATED, actor=seed.ACTOR, changes=["title"])


def _members_added(group, members) -> list:
    from accounts.events.models import EventType
    from accounts.events.outbox import membership_events

    events = []
    for offset, member in enumerate(members, start=1):
        added = copy.copy(group)  # as one PATCH per member would leave it
        added.version = group.version + offset
        events += membership_events(
            group=added,
            type=EventType.GROUP_MEMBER_ADDED,
            user_ids=[member.pk],
            actor=seed.ACTOR,
            users={member.pk: member},
        )
    return events


def _interleaved(chains: list[list], rng: random.Random) -> list:
    """The chains' events in one random order that keeps each chain's own order."""
    slots = [index for index, chain in enumerate(chains) for _ in chain]
    rng.shuffle(slots)
    positions = [iter(chain) for chain in chains]
    return [next(positions[index]) for index in slots]


def outage_events(users, group, backlog: Backlog) -> tuple[list, list]:
    """The first event of every resource, then the rest: the users' updates in a random
    order (each user's in order), then one push of the group's members.

    The group's chain is the longest and drains last, each delivery waiting for the one
    before with nothing else queued: the wait a finished job's wake-up shortens. (Spread
    through the queue instead, the group drains at its share of the overall rate.)
    """
    updated = users[: backlog.resources - 1]
    share, extra = divmod(backlog.events - backlog.group_events, len(updated))
    chains = []
    for index, user in enumerate(updated):
        count = share + (index < extra)
        chains.append([user_updated(user, user.version + n) for n in range(1, count + 1)])
    pushed = _members_added(group, users[: backlog.group_events])
    firsts = [chain[0] for chain in chains] + pushed[:1]
    rest = _interleaved([chain[1:] for chain in chains], random.Random(backlog.events))
    return firsts, rest + pushed[1:]


def queue(events: list) -> tuple[float, int]:
    """The events and their deliveries in one transaction, as a change writes them;
    returns when it committed and how many deliveries it queued.

    `ANALYZE procrastinate_jobs` in the same transaction: autovacuum is off on the bench
    machine, and with the statistics of an empty queue procrastinate's fetch scans the
    whole queue for every job (docs/performance.md §9).
    """
    from django.db import connection, transaction

    from accounts.events.fanout import queue_deliveries
    from accounts.events.models import DirectoryEvent

    with transaction.atomic():
        DirectoryEvent.objects.bulk_create(events, batch_size=seed.BATCH)
        deliveries = queue_deliveries(events)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE procrastinate_jobs")
    return time.time(), len(deliveries)
