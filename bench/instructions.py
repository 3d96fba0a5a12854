"""`python -m bench.instructions [--requests N]`: the instructions one file-server decision
costs in process, against `/readyz`'s, counted by callgrind.

Requests per second on a shared two-core machine move by a tenth or more from one run to
the next; an instruction count does not (the same code and data give the same count
within about 2 %), so it shows what a change to the decision's code saves. Each kind of
request goes through Django's whole stack in one process (config.wsgi, every
middleware, PostgreSQL and Redis for real, each kind with its own Redis database): 50 to
warm up, then `--requests` (200, so that the decisions write one sign-in log batch
between them, as their share) while callgrind counts, collecting only inside that loop.
It leaves out what the load generator, gunicorn and the database server spend, which
`make bench` measures.

Needs valgrind and the benchmark's database (BENCH_DATABASE_URL or roster_bench), seeded
by `make bench` or here; the small organization's credentials are made afresh, so every
decision is a first use that records its last use.
"""

import argparse
import functools
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import database, server

KINDS = ("readyz", "key", "password", "authorized_keys")
WARMUP = 50
# One sign-in log batch (transfer.sign_in_log.BATCH): the counted decisions write exactly
# one, as their share of the batches.
REQUESTS = 200
# The start of each kind's people: no two kinds ask for the same person.
OFFSETS = {"readyz": 0, "key": 0, "password": 400, "authorized_keys": 800}
ROOT = Path(__file__).resolve().parent.parent


def _environ(kind: str, person: dict, key_secret: str) -> dict:
    environ = {
        "REQUEST_METHOD": "GET",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.input": io.BytesIO(b""),
        "HTTP_AUTHORIZATION": f"Bearer {key_secret}",
        "QUERY_STRING": "",
    }
    if kind == "readyz":
        environ["PATH_INFO"] = "/readyz"
    elif kind == "authorized_keys":
        environ["PATH_INFO"] = "/transfer/v1/authorized_keys"
        environ["QUERY_STRING"] = "username=" + person["username"].replace("+", "%2B")
    else:
        field = "public_key" if kind == "key" else "password"
        body = json.dumps(
            {"username": person["username"], "protocol": "sftp", "ip": "127.0.0.1"}
            | {field: person[field]}
        ).encode()
        environ.update(
            REQUEST_METHOD="POST",
            PATH_INFO="/transfer/v1/authenticate",
            CONTENT_TYPE="application/json",
            CONTENT_LENGTH=str(len(body)),
        )
        environ["wsgi.input"] = io.BytesIO(body)
    return environ


def child(kind: str, requests: int, credentials_path: str) -> None:
    """Runs under callgrind: the requests, the measured ones inside functools.reduce."""
    import django

    django.setup()
    from config.wsgi import application

    credentials = json.loads(Path(credentials_path).read_text())
    people, key_secret = credentials["people"], credentials["key"]
    statuses: dict[str, int] = {}

    def start_response(status, headers, exc_info=None):
        statuses[status] = statuses.get(status, 0) + 1

    def ask(_, index):
        person = people[(OFFSETS[kind] + index) % len(people)]
        response = application(_environ(kind, person, key_secret), start_response)
        b"".join(response)
        response.close()

    # Sign-in log rows left by an earlier run: a batch is written by the request that
    # completes it, and the counted requests should complete exactly their share.
    from transfer import sign_in_log

    sign_in_log.drain()
    for index in range(WARMUP):
        ask(None, index)
    # callgrind counts only inside functools_reduce (--toggle-collect).
    functools.reduce(ask, range(WARMUP, WARMUP + requests), None)
    if set(statuses) != {"200 OK"}:
        raise SystemExit(f"{kind}: unexpected answers {statuses}")


def _count(kind: str, requests: int, credentials_path: str, env: dict) -> int:
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "callgrind.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--collect-atstart=no",
                "--toggle-collect=functools_reduce",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-m",
                "bench.instructions",
                "--child",
                kind,
                "--requests",
                str(requests),
                "--credentials",
                credentials_path,
            ],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        totals = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
        return int(totals.group(1)) // requests


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: roster_bench)")
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--credentials", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.requests, args.credentials)
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed: apt-get install valgrind")

    url = database.resolve_url(args.database_url)
    secret_key = secrets.token_urlsafe(50)
    database.ensure_exists(url)
    database.migrate(url, secret_key)
    database.setup_django(url, secret_key, "http://127.0.0.1:8000")
    from bench import seed, transfer

    data = seed.seed(seed.FULL)
    key_secret, people = transfer._credentials(data.small)
    env = server.server_environment(
        database_url=url,
        secret_key=secret_key,
        port=8000,
        workers=1,
        redis_url=server.local_redis_url(),
    )
    # Hash randomisation aside, the same code and data give the same count.
    env["PYTHONHASHSEED"] = "0"

    def own(kind: str) -> dict:
        """Each kind its own Redis database: its rate counts and sign-in log rows."""
        return {**env, "REDIS_URL": server.local_redis_url(10 + KINDS.index(kind))}

    with tempfile.NamedTemporaryFile("w", suffix=".json") as credentials:
        json.dump({"key": key_secret, "people": people}, credentials)
        credentials.flush()
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            counts = dict(
                zip(
                    KINDS,
                    pool.map(
                        lambda kind: _count(kind, args.requests, credentials.name, own(kind)),
                        KINDS,
                    ),
                    strict=True,
                )
            )
    print(f"Instructions per request, {args.requests} requests each, in process:\n")
    print("| request | instructions | ÷ /readyz |")
    print("|---|---|---|")
    for kind, count in counts.items():
        print(f"| {kind} | {count / 1e6:.2f} M | {count / counts['readyz']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
