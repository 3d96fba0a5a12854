"""The worker (python manage.py run_worker) delivering to a local receiver, on PostgreSQL.

The worker is a real process on the test database, so it can be stopped with SIGTERM
or killed with SIGKILL in the middle of a delivery.
"""

import json
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob

from accounts.events.fanout import delivery_lock
from accounts.events.models import DeliveryStatus, WebhookDelivery
from accounts.services import user_update
from accounts.services.integrations import webhook_endpoint_create
from tests.events.receiver import Answer
from tests.load.conftest import ROOT, requires_postgresql

pytestmark = [requires_postgresql, pytest.mark.live, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 45


class Worker:
    def __init__(self, env, log_path, concurrency):
        self.log_path = log_path
        command = [sys.executable, "manage.py", "run_worker"]
        if concurrency is not None:
            command += ["--concurrency", str(concurrency)]
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self, sig=signal.SIGTERM, timeout=30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=5)


@pytest.fixture
def start_worker(live_env, tmp_path):
    env = dict(
        live_env,
        WEBHOOK_ALLOW_LOOPBACK="1",
        WEBHOOK_RETRY_DELAYS="1,1,1,1,1",
        WEBHOOK_TIMEOUT_SECONDS="3",
        WORKER_HEARTBEAT_SECONDS="0.5",
        WORKER_STALLED_SECONDS="2",
        WORKER_SHUTDOWN_SECONDS="10",
    )
    started = []

    def start(*, concurrency=2, poll_seconds="0.2", **overrides) -> Worker:
        """A worker; None leaves the concurrency or the polling interval at its default."""
        worker_env = {**env, **overrides, "WORKER_POLL_SECONDS": poll_seconds}
        if poll_seconds is None:
            del worker_env["WORKER_POLL_SECONDS"]
        log_path = tmp_path / f"worker-{len(started)}.log"
        worker = Worker(worker_env, log_path, concurrency)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop(signal.SIGKILL, timeout=5)


@pytest.fixture
def endpoint(organization, receiver, settings, system_actor):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    return webhook_endpoint_create(organization=organization, url=receiver.url, actor=system_actor)


def wait_until(condition, timeout=WAIT_SECONDS):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def all_delivered(endpoint, count):
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    statuses = list(deliveries.values_list("status", flat=True))
    return len(statuses) == count and set(statuses) == {DeliveryStatus.SUCCEEDED}


def test_retries_deliver_in_order_per_resource_once_the_receiver_is_back(
    endpoint, organization, receiver, start_worker, make_user, system_actor
):
    endpoint, _ = endpoint
    receiver.script = [Answer(status=500), Answer(status=502)]
    ann = make_user(organization, "ann@acme.example")
    user_update(user=ann, actor=system_actor, title="CFO")
    user_update(user=ann, actor=system_actor, title="CEO")
    start_worker()

    assert wait_until(lambda: all_delivered(endpoint, 3)), receiver.received
    versions = [json.loads(r.body)["data"]["user"]["version"] for r in receiver.received]
    answers = [r.answered for r in receiver.received]
    # The first event failed twice; the later ones of the same user waited behind it.
    assert list(zip(versions, answers, strict=True)) == [
        (1, 500),
        (1, 502),
        (1, 200),
        (2, 200),
        (3, 200),
    ]
    first = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id").first()
    assert first.attempts == 3


def test_a_backlog_behind_a_retry_drains_at_once_when_the_retry_succeeds(
    endpoint, organization, receiver, start_worker, make_user, system_actor
):
    """A backlog drains at the receiver's speed, not one delivery per polling interval.

    One worker with its default concurrency and polling interval: the job whose retry
    succeeds sends the four queued behind it itself and withdraws their jobs
    (docs/events.md).
    """
    endpoint, _ = endpoint
    receiver.script = [Answer(status=500)]
    ann = make_user(organization, "ann@acme.example")
    for title in ("CFO", "CEO", "Chair", "Advisor"):
        user_update(user=ann, actor=system_actor, title=title)
    start_worker(concurrency=None, poll_seconds=None, WEBHOOK_RETRY_DELAYS="2,2,2")

    assert wait_until(lambda: all_delivered(endpoint, 5)), receiver.received
    versions = [json.loads(r.body)["data"]["user"]["version"] for r in receiver.received]
    assert versions == [1, 1, 2, 3, 4, 5]
    # The retry waits 2 s ± 20 % jitter; everything after it comes within 2 s more.
    elapsed = receiver.received[-1].at - receiver.received[0].at
    assert elapsed < 2 * 1.2 + 2, [
        round(r.at - receiver.received[0].at, 2) for r in receiver.received
    ]
    # The first delivery's job sent the four behind it and withdrew their jobs.
    jobs = ProcrastinateJob.objects.filter(lock=delivery_lock(endpoint.pk, ann.pk))

    def statuses():
        return list(jobs.values_list("status", flat=True))

    # The worker marks the job done just after its last delivery reaches the receiver.
    assert wait_until(lambda: statuses() == ["succeeded"]), statuses()


def test_a_worker_killed_mid_delivery_delivers_after_restart(
    endpoint, organization, receiver, start_worker, make_user
):
    endpoint, _ = endpoint
    held = threading.Event()
    receiver.script = [Answer(hold=held)]
    make_user(organization)
    worker = start_worker()
    assert receiver.wait_for(1, timeout=WAIT_SECONDS), "the first attempt never arrived"

    worker.stop(signal.SIGKILL)
    held.set()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == DeliveryStatus.PENDING

    # The killed worker's heartbeat goes stale, and the next worker takes the job back.
    time.sleep(2.5)
    start_worker()
    assert wait_until(lambda: all_delivered(endpoint, 1))
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert ids == {str(delivery.event_id)}


def test_sigterm_lets_the_delivery_in_hand_finish(
    endpoint, organization, receiver, start_worker, make_user
):
    endpoint, _ = endpoint
    receiver.script = [Answer(delay=2)]
    make_user(organization)
    worker = start_worker()
    assert receiver.wait_for(1, timeout=WAIT_SECONDS)

    assert worker.stop(signal.SIGTERM) == 0
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 1)
    assert "Worker stopped." in worker.log_path.read_text()


def test_metrics_show_the_queue_depth_and_the_oldest_jobs_age(
    client, organization, endpoint, make_user, settings
):
    settings.METRICS_TOKEN = "metrics-token-for-tests-0123456789"
    make_user(organization)
    make_user(organization)
    body = client.get(
        "/metrics", headers={"Authorization": "Bearer metrics-token-for-tests-0123456789"}
    ).content.decode()
    depth = re.search(r'^roster_job_queue_depth\{queue="webhooks"\} (\S+)$', body, re.M)
    assert depth is not None and float(depth.group(1)) >= 2
    assert re.search(r'^roster_job_queue_oldest_age_seconds\{queue="webhooks"\} ', body, re.M)
