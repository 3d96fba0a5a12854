"""Faults: the database restarting under a stream of SCIM requests, a worker killed mid-request.

The restart test stops the local PostgreSQL for a few seconds, which disturbs anything
else using it, so it runs only in CI or with ROSTER_FAULT_TESTS=1. It always starts
the server again, in a `finally`.
"""

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest
from django.conf import settings
from django.db import connections

from accounts.models import User
from tests.load.conftest import requires_postgresql
from tests.load.scim_http import (
    ERROR_SCHEMA,
    assert_scim_error,
    client,
    patch_body,
    user_body,
)

pytestmark = [requires_postgresql, pytest.mark.live, pytest.mark.django_db(transaction=True)]

FAULT_TESTS = bool(os.environ.get("CI")) or os.environ.get("ROSTER_FAULT_TESTS") == "1"
STREAM_SECONDS = 60
OUTAGE_WAIT_SECONDS = 15
RESTART_WAIT_SECONDS = 30


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def local_cluster() -> tuple[str, str] | None:
    """(version, name) of the Debian-managed cluster serving the test database, if any."""
    database = settings.DATABASES["default"]
    if (database.get("HOST") or "127.0.0.1") not in ("127.0.0.1", "localhost"):
        return None
    port = int(database.get("PORT") or 5432)
    try:
        listing = subprocess.run(
            ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in listing.splitlines():
        version, name, cluster_port, status, *_ = line.split()
        if int(cluster_port) == port and status == "online":
            return version, name
    return None


def pg_ctl(cluster: tuple[str, str], action: str) -> None:
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, action]
    if action == "stop":
        command += ["-m", "fast"]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def postgres_accepts_connections() -> bool:
    port = str(settings.DATABASES["default"].get("PORT") or 5432)
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", port]).returncode == 0


@dataclass
class PatchStream:
    """One client patching one user over and over: three attributes set to one number."""

    http: httpx.Client
    user_id: str
    responses: list = field(default_factory=list)  # (number, response)
    stop: threading.Event = field(default_factory=threading.Event)

    def body(self, number: int) -> str:
        value = str(number)
        return patch_body(
            {"op": "replace", "path": "name.givenName", "value": value},
            {"op": "replace", "path": "name.familyName", "value": value},
            {"op": "replace", "path": "title", "value": value},
        )

    def run(self) -> None:
        deadline = time.monotonic() + STREAM_SECONDS
        number = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            number += 1
            try:
                response = self.http.patch(f"/Users/{self.user_id}", content=self.body(number))
            except httpx.TransportError:
                continue
            self.responses.append((number, response))
            time.sleep(0.02)

    def statuses_since(self, index: int) -> list[int]:
        return [response.status_code for _, response in self.responses[index:]]


@pytest.mark.skipif(
    not FAULT_TESTS, reason="restarts the local PostgreSQL: set ROSTER_FAULT_TESTS=1 (or CI)"
)
def test_database_restart_answers_503_then_resumes_without_partial_writes(
    start_server, organization, scim_secret, make_user
):
    cluster = local_cluster()
    if cluster is None:
        pytest.skip("the test database is not on a local pg_ctlcluster-managed server")
    server = start_server()
    user = make_user(organization, "steady@example.com")
    http = client(server, scim_secret)
    stream = PatchStream(http, str(user.pk))
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: stream.statuses_since(0).count(200) >= 5, 15, "a healthy stream")
        before_outage = len(stream.responses)
        try:
            pg_ctl(cluster, "stop")
            wait_for(
                lambda: 503 in stream.statuses_since(before_outage),
                OUTAGE_WAIT_SECONDS,
                "503 while the database is down",
            )
            readiness = httpx.get(server.base_url + "/readyz", timeout=10)
            assert readiness.status_code == 503
        finally:
            pg_ctl(cluster, "start")
            wait_for(postgres_accepts_connections, RESTART_WAIT_SECONDS, "PostgreSQL to start")
        connections.close_all()
        after_restart = len(stream.responses)
        wait_for(
            lambda: stream.statuses_since(after_restart).count(200) >= 5,
            RESTART_WAIT_SECONDS,
            "the stream to recover with no app restart",
        )
        assert httpx.get(server.base_url + "/readyz", timeout=10).status_code == 200
    finally:
        stream.stop.set()
        thread.join(timeout=30)
        http.close()

    statuses = [response.status_code for _, response in stream.responses]
    assert set(statuses) <= {200, 503}, statuses
    unavailable = next(response for _, response in stream.responses if response.status_code == 503)
    assert_scim_error(unavailable, 503)
    assert unavailable.headers["Content-Type"] == "application/scim+json"
    assert int(unavailable.headers["Retry-After"]) > 0
    assert unavailable.json()["schemas"] == [ERROR_SCHEMA]
    # All or nothing: the three attributes always carry the same request's number, and
    # that request came no earlier than the last one acknowledged.
    user.refresh_from_db()
    assert user.given_name == user.family_name == user.title
    last_acknowledged = max(number for number, response in stream.responses if response.is_success)
    assert int(user.title) >= last_acknowledged
    assert server.process.poll() is None


def test_a_worker_killed_mid_request_loses_nothing_acknowledged(
    start_server, organization, scim_secret
):
    server = start_server(workers=2)
    acknowledged: list[str] = []
    statuses: list[int] = []
    stop = threading.Event()

    def post_users(thread_number: int) -> None:
        with client(server, scim_secret) as http:
            for index in range(150):
                if stop.is_set():
                    return
                name = f"worker-kill-{thread_number}-{index}@example.com"
                try:
                    response = http.post("/Users", content=user_body(name))
                except httpx.TransportError:
                    continue  # the killed worker's request: never acknowledged
                statuses.append(response.status_code)
                if response.status_code == 201:
                    acknowledged.append(name)

    def ten_more_acknowledged(what: str) -> None:
        baseline = len(acknowledged)
        wait_for(lambda: len(acknowledged) >= baseline + 10, 30, what)

    threads = [threading.Thread(target=post_users, args=(n,), daemon=True) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(2):
            ten_more_acknowledged("users created before the kill")
            victim = server.worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
            wait_for(
                lambda victim=victim: (
                    victim not in server.worker_pids() and len(server.worker_pids()) == 2
                ),
                15,
                "gunicorn to replace the killed worker",
            )
        ten_more_acknowledged("users created after the kill")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    assert set(statuses) == {201}, statuses
    stored = set(
        User.objects.filter(organization=organization, username__in=acknowledged).values_list(
            "username", flat=True
        )
    )
    assert stored == set(acknowledged)
    assert server.process.poll() is None
