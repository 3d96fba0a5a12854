"""The measurements of `make bench`, each paired with a baseline from the same run.

Every loop is bounded by a count and by a time budget; every request goes to the
gunicorn the run started on 127.0.0.1.
"""

import json
import statistics
import time
import uuid
from dataclasses import dataclass

import httpx

from bench import load, seed
from bench.server import Server

SCIM = "/scim/v2"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass(frozen=True)
class Budget:
    """How much work each measurement does (quick mode shrinks it)."""

    push_operations: int
    baseline_operations: int
    concurrencies: tuple[int, ...]
    samples: int
    seconds: float
    # Rounds of the group scenario; kept separate because a server that answers a group
    # PATCH with the whole member list spends seconds per round on a 50,000-member group.
    group_samples: int


FULL = Budget(400, 800, (1, 8, 32), 30, 90.0, 20)
QUICK = Budget(120, 240, (1, 8, 32), 12, 30.0, 8)


def median_ms(latencies: list[float]) -> float:
    return round(statistics.median(latencies) * 1000, 2) if latencies else 0.0


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 2) if denominator else 0.0


def _timed(http: httpx.Client, method: str, url: str, **kwargs) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = http.request(method, url, **kwargs)
    return time.perf_counter() - started, response


def _expect(response: httpx.Response, *statuses: int) -> httpx.Response:
    if response.status_code not in statuses:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:300]}"
        )
    return response


def _client(server: Server, tenant: seed.Tenant) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers=tenant.headers(), timeout=60)


# 1. Okta user push ------------------------------------------------------------------


async def readyz(http: httpx.AsyncClient, index: int) -> list[int]:
    # The ceiling: Django's middleware and one database round trip, no authentication.
    response = await http.get("/readyz")
    return [response.status_code]


async def _baseline(http: httpx.AsyncClient, index: int) -> list[int]:
    # The framework ceiling: token authentication (one indexed SELECT) and a static body.
    response = await http.get(f"{SCIM}/ServiceProviderConfig")
    return [response.status_code]


def _push_operation(run_id: str, concurrency: int):
    async def push(http: httpx.AsyncClient, index: int) -> list[int]:
        # Okta looks the user up by userName before creating it.
        name = f"push-{run_id}-c{concurrency}-{index}@push.bench.example"
        found = await http.get(f"{SCIM}/Users", params={"filter": f'userName eq "{name}"'})
        created = await http.post(
            f"{SCIM}/Users",
            content=json.dumps(
                {
                    "schemas": [USER_SCHEMA],
                    "userName": name,
                    "externalId": f"okta-{run_id}-{concurrency}-{index}",
                    "name": {"givenName": "Push", "familyName": f"User {index}"},
                    "emails": [{"value": name, "type": "work", "primary": True}],
                    "active": True,
                }
            ),
        )
        return [found.status_code, created.status_code]

    return push


def user_push(server: Server, data: seed.Dataset, budget: Budget, run_id: str) -> dict:
    rows = []
    for concurrency in budget.concurrencies:
        common = dict(
            base_url=server.base_url,
            headers=data.push.headers(),
            concurrency=concurrency,
            max_seconds=budget.seconds,
        )
        ceiling = load.run(
            name="readyz",
            operation=readyz,
            operations=budget.baseline_operations,
            warmup=4,
            **common,
        ).require(200)
        baseline = load.run(
            name="baseline",
            operation=_baseline,
            operations=budget.baseline_operations,
            warmup=4,
            **common,
        ).require(200)
        push = load.run(
            name="push",
            operation=_push_operation(run_id, concurrency),
            operations=budget.push_operations,
            **common,
        ).require(200, 201)
        rows.append(
            {
                "concurrency": concurrency,
                "readyz": ceiling.summary(),
                "baseline": baseline.summary(),
                "push": push.summary(),
                "p50_ratio": ratio(push.percentile(50), baseline.percentile(50)),
                "throughput_ratio": ratio(baseline.throughput, push.throughput),
                # A push is two requests: its requests/s as a share of the ceiling's.
                "push_over_readyz": ratio(REQUESTS_PER_PUSH * push.throughput, ceiling.throughput),
            }
        )
    return {"rows": rows}


REQUESTS_PER_PUSH = 2
CEILING_CONCURRENCY = 8
CEILING_ROUNDS = 3


def push_against_readyz(servers: dict[str, Server], data, budget: Budget, run_id: str) -> dict:
    """Okta push at concurrency 8 as a share of /readyz on the same gunicorn, per cache.

    `servers` maps a cache ("database", "redis") to a server configured with it; the
    rounds alternate between them so that the machine's drift hits each alike.
    """
    throughput = {cache: {"readyz": [], "push": []} for cache in servers}
    for round_number in range(CEILING_ROUNDS):
        order = list(servers.items())
        if round_number % 2:
            order.reverse()
        for cache, server in order:
            common = dict(
                base_url=server.base_url,
                headers=data.push.headers(),
                concurrency=CEILING_CONCURRENCY,
                max_seconds=budget.seconds,
            )
            ceiling = load.run(
                name=f"readyz-{cache}",
                operation=readyz,
                operations=budget.baseline_operations,
                warmup=CEILING_CONCURRENCY,
                **common,
            ).require(200)
            push = load.run(
                name=f"push-{cache}",
                operation=_push_operation(f"{run_id}-{cache}{round_number}", CEILING_CONCURRENCY),
                operations=budget.push_operations,
                warmup=2,
                **common,
            ).require(200, 201)
            throughput[cache]["readyz"].append(round(ceiling.throughput, 1))
            throughput[cache]["push"].append(round(push.throughput, 1))
    result = {"concurrency": CEILING_CONCURRENCY, "rounds": CEILING_ROUNDS, "caches": {}}
    for cache, values in throughput.items():
        readyz_rps = statistics.median(values["readyz"])
        push_ops = statistics.median(values["push"])
        result["caches"][cache] = {
            "readyz_per_s": values["readyz"],
            "push_ops_per_s": values["push"],
            "median_readyz_per_s": round(readyz_rps, 1),
            "median_push_ops_per_s": round(push_ops, 1),
            "push_requests_over_readyz": ratio(REQUESTS_PER_PUSH * push_ops, readyz_rps),
        }
    result["target"] = 0.35
    return result


# 2. Import: paging through one big organization -------------------------------------


def _page(http: httpx.Client, start_index: int, count: int = 100) -> tuple[float, dict]:
    seconds, response = _timed(
        http, "GET", f"{SCIM}/Users", params={"startIndex": start_index, "count": count}
    )
    return seconds, _expect(response, 200).json()


def import_paging(server: Server, data: seed.Dataset, budget: Budget) -> dict:
    total = data.main.users
    pages = (total + 99) // 100
    walk, seen = [], set()
    deadline = time.perf_counter() + budget.seconds * 4
    with _client(server, data.main) as http:
        for page in range(pages):
            if time.perf_counter() > deadline:
                break
            seconds, body = _page(http, 1 + page * 100)
            walk.append(seconds)
            seen.update(resource["id"] for resource in body.get("Resources", []))
        reported_total = body.get("totalResults")
        # The same three pages sampled in turn, so drift hits each of them equally.
        positions = {"first": 1, "middle": 1 + (pages // 2) * 100, "last": 1 + (pages - 1) * 100}
        samples = {name: [] for name in positions}
        for _ in range(budget.samples):
            for name, start in positions.items():
                samples[name].append(_page(http, start)[0])
    medians = {name: median_ms(latencies) for name, latencies in samples.items()}
    return {
        "users": total,
        "pages_walked": len(walk),
        "pages": pages,
        "distinct_users_seen": len(seen),
        "total_results": reported_total,
        "walk_ms": [round(seconds * 1000, 2) for seconds in walk],
        "median_ms": medians,
        "last_over_first": ratio(medians["last"], medians["first"]),
        "target": 1.5,
    }


# 3. Group push ----------------------------------------------------------------------


def _patch(op: dict) -> str:
    return json.dumps({"schemas": [PATCH_SCHEMA], "Operations": [op]})


GROUP_KINDS = ("add", "remove", "add_lean", "remove_lean", "get")


def group_push(server: Server, data: seed.Dataset, budget: Budget) -> dict:
    """PATCH add then remove of one member, as Okta sends them, for each group size.

    The `_lean` variants send the same PATCH with `excludedAttributes=members`, which
    separates the cost of the change from the cost of answering with the whole group.
    """
    from accounts.models import User

    # Users past the largest group are members of none, so each add really adds.
    outsiders = list(
        User.objects.filter(organization=data.main.organization)
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)[: budget.group_samples]
    )
    timings = {size: {kind: [] for kind in GROUP_KINDS} for size in data.groups}
    lean = {"excludedAttributes": "members"}
    with _client(server, data.main) as http:
        for user_id in outsiders:
            add = _patch({"op": "add", "path": "members", "value": [{"value": str(user_id)}]})
            remove = _patch({"op": "remove", "path": f'members[value eq "{user_id}"]'})
            for size, group in data.groups.items():
                url = f"{SCIM}/Groups/{group.pk}"
                steps = (
                    ("add", "PATCH", {"content": add}),
                    ("remove", "PATCH", {"content": remove}),
                    ("add_lean", "PATCH", {"content": add, "params": lean}),
                    ("remove_lean", "PATCH", {"content": remove, "params": lean}),
                    ("get", "GET", {"params": lean}),
                )
                for kind, method, options in steps:
                    seconds, response = _timed(http, method, url, **options)
                    _expect(response, 200, 204)
                    timings[size][kind].append(seconds)
    medians = {
        size: {kind: median_ms(values) for kind, values in kinds.items()}
        for size, kinds in timings.items()
    }
    smallest, largest = min(medians), max(medians)
    return {
        "samples": len(outsiders),
        "median_ms": {str(size): values for size, values in medians.items()},
        "largest_over_smallest": {
            kind: ratio(medians[largest][kind], medians[smallest][kind]) for kind in GROUP_KINDS
        },
        "target": 1.5,
    }


# 4. Filters -------------------------------------------------------------------------


def _filters(tenant: seed.Tenant) -> dict[str, str]:
    slug = tenant.organization.slug
    index = min(500, tenant.users - 1)
    name = seed.username(slug, index)
    return {
        "userName eq": f'userName eq "{name.upper()}"',
        "emails.value co": f'emails.value co "{name.split("@")[0]}@{slug}"',
        "externalId eq": f'externalId eq "{seed.external_id(slug, index)}"',
    }


def filters(server: Server, data: seed.Dataset, budget: Budget) -> dict:
    tenants = {"small": data.small, "large": data.main}
    timings = {label: {name: [] for name in _filters(data.main)} for label in tenants}
    clients = {label: _client(server, tenant) for label, tenant in tenants.items()}
    try:
        for _ in range(budget.samples):
            for label, tenant in tenants.items():
                for name, expression in _filters(tenant).items():
                    seconds, response = _timed(
                        clients[label], "GET", f"{SCIM}/Users", params={"filter": expression}
                    )
                    body = _expect(response, 200).json()
                    if body.get("totalResults") != 1:
                        raise RuntimeError(f"{expression!r} found {body.get('totalResults')}")
                    timings[label][name].append(seconds)
    finally:
        for http in clients.values():
            http.close()
    medians = {
        label: {name: median_ms(values) for name, values in by_filter.items()}
        for label, by_filter in timings.items()
    }
    return {
        "users": {label: tenant.users for label, tenant in tenants.items()},
        "median_ms": medians,
        "large_over_small": {
            name: ratio(medians["large"][name], medians["small"][name]) for name in medians["large"]
        },
        "plans": explain_filters(data.main),
    }


def explain_filters(tenant: seed.Tenant) -> dict[str, list[str]]:
    """EXPLAIN ANALYZE of the very SELECTs the app runs for each filter (captured in-process)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    plans = {}
    for name, expression in _filters(tenant).items():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(
                f"{SCIM}/Users",
                {"filter": expression},
                headers={"Authorization": f"Bearer {tenant.secret}"},
            )
        _expect_django(response)
        queries = [
            query["sql"]
            for query in captured.captured_queries
            if query["sql"].startswith("SELECT") and 'FROM "accounts_user"' in query["sql"]
        ]
        plans[name] = []
        with connection.cursor() as cursor:
            for sql in queries:
                cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql)
                plans[name].append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


def _expect_django(response) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"in-process request answered {response.status_code}")


def run_id() -> str:
    return uuid.uuid4().hex[:8]
