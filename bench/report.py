"""Writes a run's results: JSON, a Markdown table, and PNG plots (matplotlib, Agg)."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

DPI = 80
SIZE = (6.4, 3.6)


def write_json(results: dict, path: Path) -> None:
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def markdown(results: dict) -> str:
    lines = [f"# Benchmark run {results['run_id']} ({results['mode']})", ""]
    machine = results["machine"]
    lines += [
        f"{machine['cpus']} CPUs, {machine['memory_gib']} GiB, PostgreSQL "
        f"{machine['postgresql']}, {results['workers']} gunicorn workers, "
        f"{results.get('cache', 'database')} cache; "
        f"seeding took {results['seed_seconds']} s.",
        "",
    ]
    if push := results.get("push"):
        lines += ["## 1. Okta user push (lookup + POST) vs. authenticated baseline", ""]
        rows = []
        for row in push["rows"]:
            base, op = row["baseline"], row["push"]
            rows.append(
                [
                    row["concurrency"],
                    row["readyz"]["throughput_per_s"],
                    base["throughput_per_s"],
                    f"{base['p50_ms']} / {base['p95_ms']} / {base['p99_ms']}",
                    op["throughput_per_s"],
                    f"{op['p50_ms']} / {op['p95_ms']} / {op['p99_ms']}",
                    row["p50_ratio"],
                    row["throughput_ratio"],
                    row["push_over_readyz"],
                    op["statuses"],
                ]
            )
        lines += _table(
            [
                "concurrency",
                "/readyz req/s",
                "baseline req/s",
                "baseline p50/p95/p99 ms",
                "push ops/s",
                "push p50/p95/p99 ms",
                "p50 ratio",
                "throughput ratio",
                "push req/s / readyz",
                "push statuses",
            ],
            rows,
        )
        if ceiling := push.get("ceiling"):
            lines += [
                f"### Push at concurrency {ceiling['concurrency']} against /readyz, by cache "
                f"({ceiling['rounds']} alternating rounds, medians)",
                "",
            ]
            lines += _table(
                ["cache", "/readyz req/s", "push ops/s", "push req/s / readyz", "target"],
                [
                    [
                        cache,
                        f"{values['median_readyz_per_s']} {values['readyz_per_s']}",
                        f"{values['median_push_ops_per_s']} {values['push_ops_per_s']}",
                        values["push_requests_over_readyz"],
                        f">= {ceiling['target']}",
                    ]
                    for cache, values in ceiling["caches"].items()
                ],
            )
    if outbox := results.get("outbox"):
        lines += ["## Okta push with the directory-event outbox on vs. off", ""]
        lines += _table(
            ["concurrency", "ops/s on (rounds)", "ops/s off (rounds)", "on / off", "target"],
            [
                [
                    outbox["concurrency"],
                    outbox["throughput_per_s"]["on"],
                    outbox["throughput_per_s"]["off"],
                    outbox["on_over_off"],
                    f">= {outbox['target']}",
                ]
            ],
        )
    if stream := results.get("events"):
        lines += ["## Events API: a page of 100 at the start and at the end of the stream", ""]
        lines += _table(
            ["events", "first page ms", "page ending at the last event ms", "ratio", "target"],
            [
                [
                    stream["events"],
                    stream["median_ms"]["first"],
                    stream["median_ms"]["deep"],
                    stream["deep_over_first"],
                    f"<= {stream['target']}",
                ]
            ],
        )
    for hooks in (
        [results["webhooks"]["steady"], results["webhooks"]] if "webhooks" in results else []
    ):
        lines += [
            f"## Webhook delivery lag at {hooks['rate_per_s']} events/s "
            f"({hooks['achieved_rate_per_s']} achieved)",
            "",
            f"{hooks['delivered']} of {hooks['events']} events delivered "
            f"({hooks['delivered_per_s']}/s from the first commit to the last arrival), "
            f"{hooks['duplicates']} duplicates, {hooks['unsigned']} unsigned."
            + ("" if hooks["all_delivered"] else " **Not every event was delivered.**"),
            "",
        ]
        lines += _table(
            ["measured", "p50 ms", "p95 ms", "p99 ms", "max ms"],
            [
                [label, *(hooks[key][p] for p in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))]
                for label, key in (
                    ("commit (response) -> receiver", "lag"),
                    ("occurred_at -> receiver", "lag_from_occurred_at"),
                    ("commit -> attempt starts (queue)", "queued"),
                    ("attempt starts -> receiver", "attempt"),
                )
            ],
        )
    if transfer := results.get("transfer"):
        lines += _transfer(transfer)
    if recovery := results.get("recovery"):
        lines += _recovery(recovery)
    if million := results.get("million"):
        from bench.million import markdown as million_markdown

        lines += million_markdown(million)
    if paging := results.get("paging"):
        medians = paging["median_ms"]
        lines += [
            f"## 2. Import: paging {paging['users']} users, count=100",
            "",
            f"Walked {paging['pages_walked']} of {paging['pages']} pages; "
            f"{paging['distinct_users_seen']} distinct users seen, "
            f"totalResults {paging['total_results']}.",
            "",
        ]
        lines += _table(
            ["first page ms", "middle page ms", "last page ms", "last / first", "target"],
            [
                [
                    medians["first"],
                    medians["middle"],
                    medians["last"],
                    paging["last_over_first"],
                    f"<= {paging['target']}",
                ]
            ],
        )
    if groups := results.get("groups"):
        lines += [
            "## 3. Group push: PATCH one member, by group size (median ms)",
            "",
            "*lean* = the same PATCH with `excludedAttributes=members` (no member list in "
            "the answer).",
            "",
        ]
        kinds = ("add", "remove", "add_lean", "remove_lean", "get")
        rows = [
            [size, *(values[kind] for kind in kinds)]
            for size, values in groups["median_ms"].items()
        ]
        ratios = groups["largest_over_smallest"]
        rows.append(["largest / smallest", *(ratios[kind] for kind in kinds)])
        lines += _table(
            [
                "members",
                "PATCH add",
                "PATCH remove (filter)",
                "PATCH add, lean",
                "PATCH remove, lean",
                "GET excludedAttributes=members",
            ],
            rows,
        )
    if filters := results.get("filters"):
        users = filters["users"]
        lines += ["## 4. Filters (median ms)", ""]
        rows = [
            [
                name,
                filters["median_ms"]["small"][name],
                filters["median_ms"]["large"][name],
                filters["large_over_small"][name],
            ]
            for name in filters["median_ms"]["large"]
        ]
        lines += _table(
            ["filter", f"{users['small']} users", f"{users['large']} users", "ratio"], rows
        )
        for name, plans in filters["plans"].items():
            lines += [f"`{name}`:", "", "```", *plans, "```", ""]
    if saml := results.get("saml"):
        lines += ["## 5. SAML ACS", ""]
        lines += _table(
            [
                "workers",
                "/readyz req/s",
                "responses/s",
                "ACS / readyz",
                "target",
                "per worker/s",
                "per CPU/s",
                "p50 ms",
                "statuses",
            ],
            [
                [
                    saml["workers"],
                    saml["readyz"]["throughput_per_s"],
                    saml["summary"]["throughput_per_s"],
                    saml["acs_over_readyz"],
                    f">= {saml['target']}",
                    saml["per_worker_per_s"],
                    saml["per_cpu_per_s"],
                    saml["summary"]["p50_ms"],
                    saml["summary"]["statuses"],
                ]
            ],
        )
        if lifted := saml.get("limits_lifted"):
            low, high = saml["default_over_lifted_target"]
            lines += [
                f"From one address, default sign-in limits: "
                f"{saml['summary']['throughput_per_s']} responses/s; limits lifted: "
                f"{lifted['throughput_per_s']}/s ({lifted['statuses']}); default ÷ lifted "
                f"**{saml['default_over_lifted']}** (target {low} to {high}; medians of "
                f"{saml['rounds_per_s']['default']} and {saml['rounds_per_s']['lifted']}, "
                "taken in turns).",
                "",
            ]
        rates = saml["validation"]["validate_response"]
        lines += ["### validate_response in process (one thread)", ""]
        lines += _table(
            ["path", "per s (rounds)", "ms each"],
            [
                [path, f"{rates['median_per_s'][path]} {rates['per_s'][path]}", ms]
                for path, ms in rates["median_ms"].items()
            ],
        )
        lines += [
            f"compiled / library: **{rates['compiled_over_library']}** "
            f"(target >= {rates['target']})",
            "",
        ]
        acs = saml["validation"]["acs_in_process"]
        lines += [
            f"### One ACS request in process: {acs['mean_ms']} ms "
            f"({acs['per_s']}/s, {acs['statements_per_request']} SQL statements)",
            "",
        ]
        lines += _table(["step", "ms"], [[step, ms] for step, ms in acs["steps_ms"].items()])
        if callback := saml["validation"].get("oidc_callback_in_process"):
            lines += [
                f"### One OpenID Connect callback in process: {callback['mean_ms']} ms "
                f"({callback['per_s']}/s, {callback['statements_per_request']} SQL statements; "
                "the code exchange excluded)",
                "",
                f"callback ÷ ACS: **{saml['validation']['oidc_callback_over_acs']}** "
                f"(target <= {saml['validation']['oidc_callback_over_acs_target']})",
                "",
            ]
            lines += _table(
                ["step", "ms"], [[step, ms] for step, ms in callback["steps_ms"].items()]
            )
    if memory := results.get("memory"):
        lines += ["## 6. Peak RSS per worker (MiB, VmHWM)", ""]
        lines += _table(
            ["after", "workers' peaks", "max"],
            [
                [stage, sorted(peaks.values()), max(peaks.values(), default=0)]
                for stage, peaks in memory.items()
            ],
        )
    return "\n".join(lines)


def _transfer(transfer: dict) -> list[str]:
    lines = [
        "## File-server login decisions",
        "",
        f"Concurrency {transfer['concurrency']}, {transfer['rounds']} rounds on one server; "
        "each decision sample is divided by the mean of the /readyz samples either side of "
        f"it ({transfer['readyz_per_s']} requests/s), and the ratio is the median of the "
        "rounds'.",
        "",
    ]
    rows = []
    per_round = transfer.get("ratio_per_round", {})
    for kind, target in transfer["targets"].items():
        summary = transfer["summaries"][kind]
        rows.append(
            [
                kind,
                summary["throughput_per_s"],
                summary["p50_ms"],
                summary["p99_ms"],
                f"**{transfer['ratios'][kind]}**",
                ", ".join(str(value) for value in per_round.get(kind, [])),
                f">= {target}",
            ]
        )
    lines += _table(
        ["decision", "per s (last round)", "p50 ms", "p99 ms", "÷ /readyz", "rounds", "target"],
        rows,
    )
    burst = transfer["burst"]
    lines += [
        "",
        f"Burst: {burst['people']} decisions for {burst['people']} people, "
        f"{burst['concurrency']} at once: p50 {burst['p50_ms']} ms, p99 {burst['p99_ms']} ms, "
        f"{burst['server_errors']} server errors, answers {burst['statuses']}.",
        "",
    ]
    return lines


def _recovery(recovery: dict) -> list[str]:
    triggers = ", ".join(recovery["added_job_triggers"]) or "none"
    lines = [
        f"## Webhook outage recovery: {recovery['events']} events over "
        f"{recovery['resources']} resources, one group of {recovery['group_events']}",
        "",
        f"Baseline: {recovery['events']} fresh events, one per user, to a receiver answering "
        "204. Outage: the receiver answers 503 until every resource's first delivery has "
        "failed and the other events are queued behind them, the group's last; then 204, "
        "and recovery is timed from then to the last delivery (the users' alone beside "
        "it); the group's deliveries behind its first are timed from the first of them to "
        "arrive to the last. Retries every "
        f"{recovery['retry_seconds']} s (WEBHOOK_RETRY_DELAYS, for the bench only). "
        f"{recovery['concurrency']} jobs at once per worker process, polling every "
        f"{recovery['poll_seconds']} s; triggers added to procrastinate_jobs: {triggers}.",
        "",
    ]
    rows = []
    for run in recovery["runs"]:
        base, outage = run["baseline"], run["outage"]
        group, users = outage["group"], outage["users"]
        rows.append(
            [
                run["processes"],
                f"{base['per_s']} ({base['seconds']} s)",
                f"{outage['outage_seconds']} s, {outage['refused']} refused",
                f"{outage['per_s']} ({outage['seconds']} s)",
                f"{users['per_s']} ({users['delivered']} in {users['seconds']} s)",
                f"**{run['recovery_over_baseline']}**",
                f">= {recovery['target']}",
                f"**{group['per_s']}** ({group['delivered']} in {group['seconds']} s)",
                f">= {recovery['group_target_per_s']}",
                f"{outage['out_of_order']} out of order, {outage['duplicates']} duplicates",
            ]
        )
    lines += _table(
        [
            "worker processes",
            "baseline deliveries/s",
            "outage",
            "recovery deliveries/s",
            "users' deliveries/s",
            "recovery / baseline",
            "target",
            "group deliveries/s",
            "target",
            "order",
        ],
        rows,
    )
    for run in recovery["runs"]:
        outage = run["outage"]
        if not outage["complete"]:
            lines += [
                f"**{run['processes']} worker process(es): not recovered within "
                f"{outage['seconds']} s**: {outage['delivered']} of {outage['deliveries']} "
                f"delivered, deliveries by status {outage['statuses']}.",
                "",
            ]
    return lines


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)


def plots(results: dict, directory: Path) -> list[Path]:
    written = []
    if push := results.get("push"):
        figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
        levels = [row["concurrency"] for row in push["rows"]]
        for kind, marker in (("readyz", "^"), ("baseline", "o"), ("push", "s")):
            for pct, style in (("p50_ms", "-"), ("p95_ms", "--"), ("p99_ms", ":")):
                left.plot(
                    levels,
                    [row[kind][pct] for row in push["rows"]],
                    style,
                    marker=marker,
                    label=f"{kind} {pct[:3]}",
                )
            right.plot(
                levels,
                [row[kind]["throughput_per_s"] for row in push["rows"]],
                marker=marker,
                label=f"{kind} ({'ops' if kind == 'push' else 'req'}/s)",
            )
        left.set(
            xscale="log",
            xticks=levels,
            xticklabels=levels,
            xlabel="concurrency",
            ylabel="ms",
            title="Latency",
        )
        right.set(
            xscale="log",
            xticks=levels,
            xticklabels=levels,
            xlabel="concurrency",
            ylabel="per second",
            title="Throughput",
        )
        left.legend(fontsize=7)
        right.legend(fontsize=7)
        written.append(directory / "push.png")
        _save(figure, written[-1])
    if paging := results.get("paging"):
        figure, axis = plt.subplots(figsize=SIZE)
        axis.plot(range(1, len(paging["walk_ms"]) + 1), paging["walk_ms"], linewidth=0.8)
        axis.set(
            xlabel="page (count=100)",
            ylabel="ms",
            ylim=(0, None),
            title=f"GET /Users paging through {paging['users']} users",
        )
        written.append(directory / "paging.png")
        _save(figure, written[-1])
    if groups := results.get("groups"):
        figure, axis = plt.subplots(figsize=SIZE)
        sizes = [int(size) for size in groups["median_ms"]]
        for kind in ("add", "remove", "add_lean", "remove_lean", "get"):
            axis.plot(
                sizes, [groups["median_ms"][str(s)][kind] for s in sizes], marker="o", label=kind
            )
        axis.set(
            xscale="log",
            xlabel="group members",
            ylabel="median ms",
            ylim=(0, None),
            title="Group PATCH / GET cost by group size",
        )
        axis.legend()
        written.append(directory / "groups.png")
        _save(figure, written[-1])
    if filters := results.get("filters"):
        figure, axis = plt.subplots(figsize=SIZE)
        names = list(filters["median_ms"]["large"])
        width = 0.38
        for offset, label in ((-width / 2, "small"), (width / 2, "large")):
            axis.bar(
                [i + offset for i in range(len(names))],
                [filters["median_ms"][label][name] for name in names],
                width,
                label=f"{filters['users'][label]} users",
            )
        axis.set_xticks(range(len(names)), names)
        axis.set(ylabel="median ms", title="Filter latency by organization size")
        axis.legend()
        written.append(directory / "filters.png")
        _save(figure, written[-1])
    if memory := results.get("memory"):
        figure, axis = plt.subplots(figsize=SIZE)
        stages = list(memory)
        axis.bar(stages, [max(memory[stage].values(), default=0) for stage in stages])
        axis.set(ylabel="MiB", title="Peak RSS of the largest worker, cumulative")
        written.append(directory / "memory.png")
        _save(figure, written[-1])
    return written
