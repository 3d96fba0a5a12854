"""Bulk-seeded benchmark data: big organizations in shared tables, groups of set sizes.

This is a fixture for measurement, not a domain write: rows go in with bulk_create
(one INSERT per batch, no audit events), and a seeded organization is reused by the
next run when its user count already matches.
"""

import itertools
import time
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.email_search import search_text
from accounts.folding import casefold_key
from accounts.models import Group, Membership, Organization, Source, User
from provisioning.services import token_create

BATCH = 5000
ACTOR = Actor.system("bench")


@dataclass(frozen=True)
class Sizes:
    main_users: int
    other_organizations: int
    other_users: int
    small_users: int
    group_sizes: tuple[int, ...]


FULL = Sizes(100_000, 10, 10_000, 1_000, (10, 1_000, 50_000))
QUICK = Sizes(10_000, 10, 1_000, 1_000, (10, 1_000, 5_000))


@dataclass
class Tenant:
    organization: Organization
    secret: str
    users: int

    def headers(self) -> dict:
        return {
            "Authorization": f"Bearer {self.secret}",
            "Accept": "application/scim+json",
            "Content-Type": "application/scim+json",
        }


def username(slug: str, index: int) -> str:
    return f"user{index:06d}@{slug}.bench.example"


def external_id(slug: str, index: int) -> str:
    return f"{slug}-ext-{index:06d}"


def _users(organization: Organization, count: int, password: str):
    slug = organization.slug
    for index in range(count):
        name = username(slug, index)
        emails = [{"value": name, "type": "work", "primary": True}]
        yield User(
            organization=organization,
            username=name,
            email=name,
            # bulk_create skips User.save(), which writes the comparison keys.
            username_key=casefold_key(name),
            email_key=casefold_key(name),
            email_search=search_text(emails),
            profile={"emails": emails},
            given_name=f"Given{index}",
            family_name=f"Family{index}",
            display_name=f"Given{index} Family{index}",
            external_id=external_id(slug, index),
            source=Source.SCIM,
            password=password,
        )


def _organization(slug: str, users: int) -> tuple[Organization, bool]:
    organization, _ = Organization.objects.get_or_create(slug=slug, defaults={"name": slug})
    if User.objects.filter(organization=organization).count() == users:
        return organization, False
    User.objects.filter(organization=organization).delete()
    password = make_password(None)  # unusable: these users sign in through SSO only
    created = _users(organization, users, password)
    while batch := list(itertools.islice(created, BATCH)):
        User.objects.bulk_create(batch, batch_size=BATCH)
    return organization, True


def _group(organization: Organization, size: int) -> Group:
    name = f"Bench group of {size}"
    group, _ = Group.objects.get_or_create(
        organization=organization, display_name=name, defaults={"external_id": f"g-{size}"}
    )
    if group.memberships.count() != size:
        group.memberships.all().delete()
        members = User.objects.filter(organization=organization).order_by("created_at", "id")
        ids = members.values_list("id", flat=True)[:size]
        now = timezone.now()
        Membership.objects.bulk_create(
            [Membership(group=group, user_id=user_id, created_at=now) for user_id in ids],
            batch_size=BATCH,
        )
    return group


def _tenant(organization: Organization, users: int) -> Tenant:
    _, secret = token_create(organization=organization, label="bench", actor=ACTOR)
    return Tenant(organization=organization, secret=secret, users=users)


@dataclass
class Dataset:
    main: Tenant
    small: Tenant
    push: Tenant
    groups: dict[int, Group]
    others: list[Organization]
    seconds: float
    seeded: bool


def seed(sizes: Sizes, log=print) -> Dataset:
    started = time.perf_counter()
    seeded = False
    with transaction.atomic():
        main, fresh = _organization(f"bench-main-{sizes.main_users}", sizes.main_users)
        seeded |= fresh
    log(f"  main organization: {sizes.main_users} users ({'seeded' if fresh else 'reused'})")
    others = []
    for number in range(sizes.other_organizations):
        with transaction.atomic():
            other, fresh = _organization(
                f"bench-other-{number}-{sizes.other_users}", sizes.other_users
            )
            seeded |= fresh
        others.append(other)
    log(f"  {sizes.other_organizations} other organizations x {sizes.other_users} users")
    with transaction.atomic():
        small, fresh = _organization(f"bench-small-{sizes.small_users}", sizes.small_users)
        seeded |= fresh
        push, _ = _organization("bench-push", 0)
        groups = {size: _group(main, size) for size in sizes.group_sizes}
    log(f"  groups of {', '.join(str(size) for size in sizes.group_sizes)} members")
    from django.db import connection

    # Steady state, as autovacuum would leave it: planner statistics and a visibility
    # map (index-only scans), rather than the state right after a bulk load.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return Dataset(
        main=_tenant(main, sizes.main_users),
        small=_tenant(small, sizes.small_users),
        push=_tenant(push, 0),
        groups=groups,
        others=others,
        seconds=time.perf_counter() - started,
        seeded=seeded,
    )
