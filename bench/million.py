"""`--only million`: one organization of 1,000,000 users (100,000 with --quick).

Seeded with COPY (psycopg), not through the API: a fixture for measurement, like
bench/seed.py. Then, over HTTP against the run's gunicorn, each figure beside its
baseline from the same run:

- the last page ÷ the first page, for startIndex paging and for cursor paging;
- an import (pages of 100) ÷ reading the same rows one request per page by primary
  key (a `.search` for the page's ids); a sample of contiguous pages at the start, the
  middle and the end of the list, since all 10,000 pages take too long here;
- `userName eq` and `externalId eq` at this size ÷ in a 1,000-user organization;
- a 200,000-member group ÷ a 10-member group: adding and removing 10 members, and
  GET with excludedAttributes=members.
"""

import json
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from accounts.email_search import search_text
from accounts.folding import casefold_key
from accounts.models import Group, Organization, Source, User
from bench import seed
from bench.scenarios import PATCH_SCHEMA, SCIM, median_ms, ratio

SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
PAGE = 100
TARGETS = {"last_over_first": 1.5, "import_over_by_id": 2.0, "lookup": 1.5, "group": 1.5}


@dataclass(frozen=True)
class Plan:
    users: int
    big_group: int
    samples: int
    window_pages: int


FULL = Plan(users=1_000_000, big_group=200_000, samples=20, window_pages=50)
QUICK = Plan(users=100_000, big_group=20_000, samples=12, window_pages=30)


# -- seeding -------------------------------------------------------------------------


def _template(organization: Organization) -> tuple[list[str], dict]:
    """Every column of a user row, as the database takes it from COPY's text format."""
    user = User(organization=organization, username="x", source=Source.SCIM)
    user.password = make_password(None)
    values = {}
    for field in User._meta.concrete_fields:
        value = field.get_db_prep_save(field.pre_save(user, add=True), connection)
        if hasattr(value, "obj"):  # a JSON adapter
            value = json.dumps(value.obj)
        values[field.column] = value
    return list(values), values


def _copy_users(organization: Organization, count: int, start) -> None:
    columns, template = _template(organization)
    slug = organization.slug
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    sql = f"COPY {User._meta.db_table} ({names}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for index in range(count):
            name = seed.username(slug, index)
            emails = [{"value": name, "type": "work", "primary": True}]
            # A microsecond apart, in creation order, as a steady import leaves them.
            at = start + timedelta(microseconds=index)
            row = dict(
                template,
                id=uuid.uuid4(),
                username=name,
                email=name,
                username_key=casefold_key(name),
                email_key=casefold_key(name),
                email_search=search_text(emails),
                profile=json.dumps({"emails": emails}),
                given_name=f"Given{index}",
                family_name=f"Family{index}",
                display_name=f"Given{index} Family{index}",
                external_id=seed.external_id(slug, index),
                created_at=at,
                updated_at=at,
            )
            copy.write_row([row[c] for c in columns])


def _organization(slug: str, users: int, log) -> Organization:
    organization, _ = Organization.objects.get_or_create(slug=slug, defaults={"name": slug})
    if User.objects.filter(organization=organization).count() == users:
        log(f"  {slug}: {users} users (reused)", flush=True)
        return organization
    started = time.perf_counter()
    with transaction.atomic():
        User.objects.filter(organization=organization).delete()
        _copy_users(organization, users, timezone.now() - timedelta(days=30))
    log(f"  {slug}: {users} users copied in {time.perf_counter() - started:.0f} s", flush=True)
    return organization


def _group(organization: Organization, size: int) -> Group:
    group, _ = Group.objects.get_or_create(
        organization=organization, display_name=f"Million group of {size}"
    )
    if group.memberships.count() != size:
        with transaction.atomic(), connection.cursor() as cursor:
            group.memberships.all().delete()
            cursor.execute(
                "INSERT INTO accounts_membership (group_id, user_id, created_at) "
                "SELECT %s, id, now() FROM accounts_user WHERE organization_id = %s "
                "ORDER BY created_at, id LIMIT %s",
                [group.pk, organization.pk, size],
            )
    return group


@dataclass
class Million:
    big: seed.Tenant
    thousand: seed.Tenant
    groups: dict[int, Group]
    seconds: float


def prepare(plan: Plan, log=print) -> Million:
    started = time.perf_counter()
    big = _organization(f"bench-million-{plan.users}", plan.users, log)
    thousand = _organization("bench-thousand", 1_000, log)
    groups = {size: _group(big, size) for size in (10, plan.big_group)}
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE accounts_user")
        cursor.execute("VACUUM ANALYZE accounts_membership")
    return Million(
        big=seed._tenant(big, plan.users),
        thousand=seed._tenant(thousand, 1_000),
        groups=groups,
        seconds=time.perf_counter() - started,
    )


# -- measuring -----------------------------------------------------------------------


def _get(http: httpx.Client, path: str, **params) -> tuple[float, dict]:
    started = time.perf_counter()
    response = http.get(f"{SCIM}{path}", params=params)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} {params} answered {response.status_code}: {response.text}")
    return elapsed, response.json()


def _median(http, samples: int, path: str, **params) -> float:
    _get(http, path, **params)  # warm
    return median_ms([_get(http, path, **params)[0] for _ in range(samples)])


def _cursor_before(organization: Organization, position: int) -> str:
    """A cursor as the service gives it after the page ending at `position` (1-based)."""
    from provisioning.paging import cursor_for

    row = (
        User.objects.filter(organization=organization)
        .order_by("created_at", "id")
        .values_list("created_at", "pk")[position - 1]
    )
    return cursor_for(organization, "User", None, row)


def _first_and_last(http, data: Million, plan: Plan) -> dict:
    total = data.big.users
    last_index = total - PAGE + 1
    # startIndex: the last page as an import reaches it, the page before it read first
    # (its last key is what the next page seeks from); then cold, by OFFSET.
    first = _median(http, plan.samples, "/Users", startIndex=1, count=PAGE)
    _get(http, "/Users", startIndex=last_index - PAGE, count=PAGE)
    last = _median(http, plan.samples, "/Users", startIndex=last_index, count=PAGE)
    cold = median_ms(
        [
            _get(http, "/Users", startIndex=last_index - 1 - n, count=PAGE)[0]
            for n in range(min(plan.samples, 10))
        ]
    )
    cursor_first = _median(http, plan.samples, "/Users", cursor="", count=PAGE)
    before_last = _cursor_before(data.big.organization, total - PAGE)
    cursor_last = _median(http, plan.samples, "/Users", cursor=before_last, count=PAGE)
    return {
        "index": {"first_ms": first, "last_ms": last, "last_over_first": ratio(last, first)},
        "index_cold_jump_to_last_ms": cold,
        "cursor": {
            "first_ms": cursor_first,
            "last_ms": cursor_last,
            "last_over_first": ratio(cursor_last, cursor_first),
        },
    }


def _any_of(ids: list[str]) -> str:
    """`id eq` for each, or-ed as a balanced tree: the filter parser caps nesting."""
    if len(ids) == 1:
        return f'id eq "{ids[0]}"'
    half = len(ids) // 2
    return f"({_any_of(ids[:half])}) or ({_any_of(ids[half:])})"


def _by_id(http, ids: list[str]) -> float:
    body = {
        "schemas": [SEARCH_SCHEMA],
        "filter": _any_of(ids),
        "count": PAGE,
    }
    started = time.perf_counter()
    response = http.post(f"{SCIM}/Users/.search", content=json.dumps(body))
    elapsed = time.perf_counter() - started
    if response.status_code != 200 or response.json()["itemsPerPage"] != len(ids):
        raise RuntimeError(f".search by id answered {response.status_code}: {response.text}")
    return elapsed


def _import_windows(http, data: Million, plan: Plan) -> dict:
    """Contiguous pages at the start, middle and end, each way, with their ids read back
    one request per page by primary key."""
    pages = data.big.users // PAGE
    starts = [0, pages // 2 - plan.window_pages // 2, pages - plan.window_pages]
    index_s, cursor_s, by_id_s, seen = [], [], [], 0
    for window_start in starts:
        start_index = window_start * PAGE + 1
        if window_start:
            # Where an import from the first page would be: the page before was read.
            _get(http, "/Users", startIndex=start_index - PAGE, count=PAGE)
            cursor = _cursor_before(data.big.organization, window_start * PAGE)
        else:
            cursor = ""
        ids_per_page = []
        for page in range(plan.window_pages):
            elapsed, body = _get(http, "/Users", startIndex=start_index + page * PAGE, count=PAGE)
            index_s.append(elapsed)
            ids_per_page.append([r["id"] for r in body["Resources"]])
        for page in range(plan.window_pages):
            elapsed, body = _get(http, "/Users", cursor=cursor, count=PAGE)
            cursor_s.append(elapsed)
            ids = [r["id"] for r in body["Resources"]]
            if ids != ids_per_page[page]:
                raise RuntimeError("cursor and startIndex pages differ")
            seen += len(ids)
            cursor = body.get("nextCursor", "")
        by_id_s += [_by_id(http, ids) for ids in ids_per_page]
    mean = {name: statistics.fmean(v) for name, v in [("index", index_s), ("cursor", cursor_s)]}
    by_id = statistics.fmean(by_id_s)
    return {
        "pages_sampled_each_way": len(index_s),
        "rows_checked": seen,
        "windows": len(starts),
        "mean_page_ms": {
            "index": round(mean["index"] * 1000, 2),
            "cursor": round(mean["cursor"] * 1000, 2),
            "by_id": round(by_id * 1000, 2),
        },
        "index_over_by_id": ratio(mean["index"], by_id),
        "cursor_over_by_id": ratio(mean["cursor"], by_id),
        "estimated_full_import_s": {
            "index": round(mean["index"] * pages, 0),
            "cursor": round(mean["cursor"] * pages, 0),
            "by_id": round(by_id * pages, 0),
        },
    }


def _lookups(big_http, small_http, data: Million, plan: Plan) -> dict:
    middle = data.big.users // 2
    rows = {}
    for name, big_value, small_value in [
        (
            "userName",
            seed.username(data.big.organization.slug, middle),
            seed.username(data.thousand.organization.slug, 500),
        ),
        (
            "externalId",
            seed.external_id(data.big.organization.slug, middle),
            seed.external_id(data.thousand.organization.slug, 500),
        ),
    ]:
        big = _median(big_http, plan.samples, "/Users", filter=f'{name} eq "{big_value}"')
        small = _median(small_http, plan.samples, "/Users", filter=f'{name} eq "{small_value}"')
        rows[name] = {"million_ms": big, "thousand_ms": small, "ratio": ratio(big, small)}
    return rows


def _group_round(http, group: Group, user_ids: list[str]) -> float:
    members = [{"value": pk} for pk in user_ids]
    started = time.perf_counter()
    for op in ("add", "remove"):
        operation = {"op": op, "path": "members", "value": members}
        response = http.patch(
            f"{SCIM}/Groups/{group.pk}",
            content=json.dumps({"schemas": [PATCH_SCHEMA], "Operations": [operation]}),
        )
        if response.status_code != 204:
            raise RuntimeError(f"group PATCH answered {response.status_code}: {response.text}")
    return time.perf_counter() - started


def _groups(http, data: Million, plan: Plan) -> dict:
    # Ten users from the end of the list, in neither group.
    outsiders = [
        str(pk)
        for pk in User.objects.filter(organization=data.big.organization)
        .order_by("-created_at")
        .values_list("pk", flat=True)[:10]
    ]
    rows = {}
    for size, group in data.groups.items():
        _group_round(http, group, outsiders)
        patch = median_ms([_group_round(http, group, outsiders) for _ in range(plan.samples)])
        get = _median(http, plan.samples, f"/Groups/{group.pk}", excludedAttributes="members")
        rows[size] = {"add_remove_10_ms": patch, "get_without_members_ms": get}
    small, big = rows[10], rows[plan.big_group]
    return {
        "sizes": rows,
        "patch_ratio": ratio(big["add_remove_10_ms"], small["add_remove_10_ms"]),
        "get_ratio": ratio(big["get_without_members_ms"], small["get_without_members_ms"]),
    }


def measure(server, data: Million, plan: Plan) -> dict:
    timeout = httpx.Timeout(120)
    with (
        httpx.Client(base_url=server.base_url, headers=data.big.headers(), timeout=timeout) as big,
        httpx.Client(
            base_url=server.base_url, headers=data.thousand.headers(), timeout=timeout
        ) as small,
    ):
        return {
            "users": data.big.users,
            "big_group": plan.big_group,
            "seed_seconds": round(data.seconds, 1),
            "targets": TARGETS,
            "pages": _first_and_last(big, data, plan),
            "import": _import_windows(big, data, plan),
            "lookups": _lookups(big, small, data, plan),
            "groups": _groups(big, data, plan),
        }


def run(server, *, quick: bool, log=print) -> dict:
    plan = QUICK if quick else FULL
    data = prepare(plan, log)
    return measure(server, data, plan)


def markdown(result: dict) -> list[str]:
    pages, imported = result["pages"], result["import"]
    lookups, groups = result["lookups"], result["groups"]
    lines = [
        f"## Million: {result['users']} users in one organization",
        "",
        f"Seeded (COPY) or reused in {result['seed_seconds']} s.",
        "",
    ]
    lines += _rows(
        ["paging", "first page ms", "last page ms", "last ÷ first", "target"],
        [
            ["startIndex", *_first_last(pages["index"])],
            ["cursor", *_first_last(pages["cursor"])],
        ],
    )
    lines += [
        f"A cold jump to the last page by startIndex (no page before it read): "
        f"{pages['index_cold_jump_to_last_ms']} ms.",
        "",
    ]
    mean = imported["mean_page_ms"]
    lines += [
        f"Import sample: {imported['pages_sampled_each_way']} pages each way in "
        f"{imported['windows']} contiguous windows (start, middle, end).",
        "",
    ]
    lines += _rows(
        ["per page", "startIndex ms", "cursor ms", "by id ms", "startIndex ÷ by id", "target"],
        [
            [
                "mean",
                mean["index"],
                mean["cursor"],
                mean["by_id"],
                f"{imported['index_over_by_id']} (cursor {imported['cursor_over_by_id']})",
                "<= 2.0",
            ]
        ],
    )
    lines += _rows(
        ["lookup", f"{result['users']} users ms", "1,000 users ms", "ratio", "target"],
        [
            [name, r["million_ms"], r["thousand_ms"], r["ratio"], "<= 1.5"]
            for name, r in lookups.items()
        ],
    )
    sizes = groups["sizes"]
    lines += _rows(
        ["group members", "add+remove 10 ms", "GET excludedAttributes=members ms"],
        [[size, r["add_remove_10_ms"], r["get_without_members_ms"]] for size, r in sizes.items()],
    )
    lines += [
        f"Large ÷ small: PATCH {groups['patch_ratio']}, GET {groups['get_ratio']} (target <= 1.5).",
        "",
    ]
    return lines


def _first_last(row: dict) -> list:
    return [row["first_ms"], row["last_ms"], row["last_over_first"], "<= 1.5"]


def _rows(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]
