"""File-server login decisions: POST /transfer/v1/authenticate (an SSH key, an app
password) and GET /transfer/v1/authorized_keys at concurrency 8 against /readyz on the
same gunicorn, and a burst of decisions for every person of an organization at once
(a scheduled batch job at the top of the hour).

The small bench organization gets file transfer on, one SSH key and one app password
per person (bulk inserts, as the seed does) and a transfer key, each run afresh.
"""

import json
import statistics
from urllib.parse import urlencode

from bench import load, seed
from bench.scenarios import Budget, ratio, readyz
from bench.server import Server

CONCURRENCY = 8
ROUNDS = 5
BURST_CONCURRENCY = 200
TARGETS = {"key": 0.6, "password": 0.6, "authorized_keys": 0.7}


def _credentials(tenant: seed.Tenant) -> tuple[str, list[dict]]:
    """(transfer key secret, [{username, public_key, password}]) for every person."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from django.db import connection

    from accounts.models import User
    from transfer.models import APP_PASSWORD, AppPassword, CredentialSource, SshKey, TransferKey
    from transfer.services import transfer_key_create, transfer_policy_set
    from transfer.ssh_keys import parse_public_key

    organization = tenant.organization
    for model in (SshKey, AppPassword, TransferKey):
        model.objects.filter(organization=organization).delete()
    transfer_policy_set(organization=organization, mode="everyone", actor=seed.ACTOR)
    _, key_secret = transfer_key_create(organization=organization, label="bench", actor=seed.ACTOR)
    people, keys, passwords = [], [], []
    for user in User.objects.filter(organization=organization).order_by("username"):
        public = ed25519.Ed25519PrivateKey.generate().public_key()
        line = public.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
        parsed = parse_public_key(line)
        keys.append(
            SshKey(
                organization=organization,
                user=user,
                key_type=parsed.key_type,
                public_key=parsed.normalized,
                fingerprint=parsed.fingerprint,
                source=CredentialSource.ADMIN,
            )
        )
        password = AppPassword(
            organization=organization, user=user, label="bench", source=CredentialSource.ADMIN
        )
        secret = password.set_secret(APP_PASSWORD)
        passwords.append(password)
        # No verified domain here: login names are qualified (docs/transfer.md).
        login = f"{organization.slug}+{user.username}"
        people.append(
            {
                "username": login,
                "public_key": line,
                "password": secret,
                "authorized_keys": "/transfer/v1/authorized_keys?" + urlencode({"username": login}),
            }
        )
    SshKey.objects.bulk_create(keys, batch_size=1000)
    AppPassword.objects.bulk_create(passwords, batch_size=1000)
    # Steady state, as autovacuum would leave it (bench.seed): every run deletes the
    # previous run's credentials, whose dead rows would otherwise slow each lookup.
    with connection.cursor() as cursor:
        for model in (SshKey, AppPassword, TransferKey):
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return key_secret, people


def _decision(people: list[dict], kind: str):
    async def ask(http, index):
        person = people[index % len(people)]
        if kind == "authorized_keys":
            # The query string made once per person, not by httpx's `params=` for every
            # request: merging params costs this one-process load generator about 0.1 ms
            # a request more than /readyz's request costs it, and the generator's own
            # time sets the pace of both (docs/performance.md).
            response = await http.get(person["authorized_keys"])
            return [response.status_code if response.content else 204]
        body = {"username": person["username"], "protocol": "sftp", "ip": "127.0.0.1"}
        field = "public_key" if kind == "key" else "password"
        body[field] = person[field]
        response = await http.post("/transfer/v1/authenticate", content=json.dumps(body))
        return [response.status_code]

    return ask


def decisions(server: Server, data: seed.Dataset, budget: Budget) -> dict:
    """Each decision kind's rate as a share of /readyz's, on the same server.

    Every sample of a decision kind is bracketed by /readyz samples, and its ratio is
    taken against their mean: the machine's speed drifts by a fifth within a minute on a
    shared host, and a ratio of two samples taken seconds apart follows the server's
    relative cost rather than that drift. A kind's ratio is the median of its rounds'.
    """
    key_secret, people = _credentials(data.small)
    headers = {"Authorization": f"Bearer {key_secret}", "Content-Type": "application/json"}

    def readyz_rate() -> float:
        return (
            load.run(
                base_url=server.base_url,
                name="readyz",
                operation=readyz,
                concurrency=CONCURRENCY,
                operations=budget.baseline_operations,
                max_seconds=budget.seconds,
                warmup=CONCURRENCY,
            )
            .require(200)
            .throughput
        )

    readyz_rates = [readyz_rate()]
    rounds: dict[str, list[float]] = {kind: [] for kind in TARGETS}
    summaries = {}
    for _ in range(ROUNDS):
        for kind in TARGETS:
            sample = load.run(
                base_url=server.base_url,
                headers=headers,
                name=kind,
                operation=_decision(people, kind),
                concurrency=CONCURRENCY,
                operations=budget.push_operations,
                max_seconds=budget.seconds,
                warmup=CONCURRENCY,
            ).require(200)
            readyz_rates.append(readyz_rate())
            around = statistics.mean(readyz_rates[-2:])
            rounds[kind].append(ratio(sample.throughput, around))
            summaries[kind] = sample.summary()
    result = {
        "concurrency": CONCURRENCY,
        "rounds": ROUNDS,
        "readyz_per_s": [round(rate, 1) for rate in readyz_rates],
        "summaries": summaries,
        "ratio_per_round": rounds,
        "ratios": {kind: statistics.median(values) for kind, values in rounds.items()},
        "targets": TARGETS,
    }
    burst = load.run(
        base_url=server.base_url,
        headers=headers,
        name="burst",
        operation=_decision(people, "key"),
        concurrency=BURST_CONCURRENCY,
        operations=len(people),
        max_seconds=budget.seconds * 4,
    )
    result["burst"] = {
        **burst.summary(),
        "people": len(people),
        "server_errors": sum(n for code, n in burst.statuses.items() if code >= 500),
    }
    return result
