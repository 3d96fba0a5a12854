"""`python -m bench [--quick] [--workers N] [--only push,paging,...]`: run the benchmarks.

Starts gunicorn against PostgreSQL (BENCH_DATABASE_URL, or a dedicated roster_bench
database that it creates and migrates), seeds it with bulk inserts, drives real HTTP
from 127.0.0.1, and writes results.json, results.md and PNG plots under bench/results/.
"""

import argparse
import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import database, report, server

SCENARIOS = (
    "push",
    "paging",
    "groups",
    "filters",
    "saml",
    "outbox",
    "events",
    "webhooks",
    "recovery",
    "transfer",
    "million",
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller data and fewer samples")
    parser.add_argument(
        "--workers", type=int, default=2 * (os.cpu_count() or 1) + 1, help="gunicorn workers"
    )
    parser.add_argument("--database-url", help="PostgreSQL URL (default: roster_bench)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def machine(postgresql: str) -> dict:
    meminfo = Path("/proc/meminfo").read_text().split()
    total_kib = int(meminfo[meminfo.index("MemTotal:") + 1])
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(total_kib / 1024 / 1024, 1),
        "postgresql": postgresql,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    url = database.resolve_url(args.database_url)
    args.out.mkdir(parents=True, exist_ok=True)
    secret_key = secrets.token_urlsafe(50)
    started = time.perf_counter()

    print(f"database {database.database_name(url)}: creating if missing, migrating")
    database.ensure_exists(url)
    database.migrate(url, secret_key)
    server.collect_static(secret_key)
    port = server.free_port()
    database.setup_django(url, secret_key, f"http://127.0.0.1:{port}")

    from bench import events, million, recovery, saml, scenarios, seed, transfer, webhooks

    sizes, budget = (seed.QUICK, scenarios.QUICK) if args.quick else (seed.FULL, scenarios.FULL)
    if set(args.only) - {"million"}:
        print("seeding")
        data = seed.seed(sizes)
    else:
        # The million scenario seeds its own organizations.
        data = seed.Dataset(None, None, None, {}, [], 0.0, False)
    run_id = scenarios.run_id()
    results = {
        "run_id": run_id,
        "mode": "quick" if args.quick else "full",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "workers": args.workers,
        "machine": machine(database.server_version()),
        "sizes": sizes.__dict__,
        "seed_seconds": round(data.seconds, 1),
        "memory": {},
    }
    steps = {
        "push": lambda srv: scenarios.user_push(srv, data, budget, run_id),
        "paging": lambda srv: scenarios.import_paging(srv, data, budget),
        "groups": lambda srv: scenarios.group_push(srv, data, budget),
        "filters": lambda srv: scenarios.filters(srv, data, budget),
    }

    def acs(srv):
        # The same public address as `srv`: the responses are addressed to its ACS URL.
        environment = {**saml.LIFTED_LIMITS, "PUBLIC_BASE_URL": srv.base_url}
        lifted = other_server("acs-limits-lifted", environment=environment)
        return saml.acs(srv, data, budget, args.workers, lifted=lifted)

    steps["events"] = lambda srv: events.events_pages(srv, data, budget, quick=args.quick)

    redis_url = server.local_redis_url()
    results["cache"] = "redis" if redis_url else "database"

    def other_server(label: str, **overrides):
        """A second gunicorn beside the main one, for a comparison in the same run."""
        options = dict(
            database_url=url,
            secret_key=secret_key,
            workers=args.workers,
            port=server.free_port(),
            redis_url=redis_url,
            log_path=args.out / f"gunicorn-{run_id}-{label}.log",
        )
        return server.gunicorn(**{**options, **overrides})

    def push(srv):
        result = scenarios.user_push(srv, data, budget, run_id)
        servers = {"redis": srv} if redis_url else {}
        with other_server("database-cache", redis_url="") as database_cache:
            servers = {"database": database_cache, **servers}
            result["ceiling"] = scenarios.push_against_readyz(servers, data, budget, run_id)
        return result

    def outbox(srv):
        overrides = {"settings_module": "bench.settings_without_events"}
        with other_server("without-events", **overrides) as without_events:
            return events.outbox_overhead(srv, without_events, data, budget, run_id)

    def worker(processes: int = 1, **environment):
        return server.job_worker(
            database_url=url,
            secret_key=secret_key,
            redis_url=redis_url,
            log_path=args.out / f"worker-{run_id}.log",
            processes=processes,
            environment=environment,
        )

    steps["push"] = push
    steps["saml"] = acs
    steps["outbox"] = outbox
    steps["webhooks"] = lambda srv: webhooks.delivery_lag(
        srv, worker, budget, run_id, quick=args.quick
    )
    steps["recovery"] = lambda srv: recovery.outage_recovery(worker, quick=args.quick)
    steps["transfer"] = lambda srv: transfer.decisions(srv, data, budget)
    steps["million"] = lambda srv: million.run(srv, quick=args.quick)

    log_path = args.out / f"gunicorn-{run_id}.log"
    with server.gunicorn(
        database_url=url,
        secret_key=secret_key,
        workers=args.workers,
        port=port,
        redis_url=redis_url,
        log_path=log_path,
    ) as srv:
        results["memory"]["start"] = srv.peak_rss_mib()
        for name in args.only:
            print(f"{name} ...", flush=True)
            step_started = time.perf_counter()
            results[name] = steps[name](srv)
            results[name]["seconds"] = round(time.perf_counter() - step_started, 1)
            results["memory"][name] = srv.peak_rss_mib()
    results["total_seconds"] = round(time.perf_counter() - started, 1)

    report.write_json(results, args.out / "results.json")
    (args.out / "results.md").write_text(report.markdown(results))
    written = report.plots(results, args.out)
    print((args.out / "results.md").read_text())
    print(f"wrote {args.out / 'results.json'}, results.md, {len(written)} plots")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
