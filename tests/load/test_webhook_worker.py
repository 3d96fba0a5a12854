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

from accounts.events.models import DeliveryStatus, WebhookDelivery
from accounts.services import user_update
from accounts.services.integrations import webhook_endpoint_create
from tests.events.receiver import Answer
from tests.load.conftest import ROOT, requires_postgresql

pytestmark = [requires_postgresql, pytest.mark.live, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 45


class Worker:
    def __init__(self, env, log_path):
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "run_worker", "--concurrency", "2"],
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
        WORKER_POLL_SECONDS="0.2",
        WORKER_HEARTBEAT_SECONDS="0.5",
        WORKER_STALLED_SECONDS="2",
        WORKER_SHUTDOWN_SECONDS="10",
    )
    started = []

    def start() -> Worker:
        worker = Worker(env, tmp_path / f"worker-{len(started)}.log")
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
