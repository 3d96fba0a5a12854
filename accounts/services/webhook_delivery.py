"""One delivery attempt: check, sign, send, record; the job queue decides when to retry.

The attempt is counted before the request goes out, in its own transaction, so an
attempt cut short by a killed worker still counts; the request itself runs outside any
transaction, and its outcome is recorded in another one.

The job that holds a resource's lock, once its own delivery is settled, sends the
deliveries queued behind it in the same way, in order (`deliver_following`).
"""

import json
import math
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.events.fanout import deliveries_queued_behind, withdraw_job
from accounts.events.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from accounts.events.snapshots import event_body
from accounts.events.webhooks import sender, signing
from accounts.services.integrations import webhook_endpoint_disable

USER_AGENT = "Roster-Webhooks/1"
SYSTEM_ACTOR = Actor.system("webhook delivery")
# How much one job sends of the deliveries queued behind it: the next job on the lock
# carries on from there, so a long backlog never keeps one worker slot for long and a
# worker asked to stop (WORKER_SHUTDOWN_SECONDS) is not held up by it.
FOLLOWING_MAX_DELIVERIES = 200
FOLLOWING_MAX_SECONDS = 5.0
FOLLOWING_BATCH = 50
# A job fetched this early for its delivery's next attempt (clocks of two machines) runs.
SCHEDULE_TOLERANCE_SECONDS = 1.0


class RetryLater(Exception):
    def __init__(self, seconds: int):
        super().__init__(f"retry in {seconds} s")
        self.seconds = seconds


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    headers: dict


def message_id(delivery: WebhookDelivery) -> str:
    """webhook-id: the event's id, the same on every attempt and every resend."""
    return str(delivery.event_id) if delivery.event_id else f"test-{delivery.pk}"


def payload(delivery: WebhookDelivery) -> dict:
    if delivery.event is not None:
        return event_body(delivery.event)
    return {
        "id": message_id(delivery),
        "type": "webhook.test",
        "occurred_at": delivery.created_at.isoformat().replace("+00:00", "Z"),
        "data": {"endpoint": {"id": str(delivery.endpoint_id), "url": delivery.endpoint.url}},
    }


def live_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    secrets = endpoint.secrets.all()
    return [
        signing.decrypt_secret(secret.encrypted)
        for secret in secrets
        if secret.expires_at is None or secret.expires_at > now
    ]


def build_request(delivery: WebhookDelivery, now: datetime) -> Request:
    body = json.dumps(payload(delivery), separators=(",", ":"))
    msg_id = message_id(delivery)
    return Request(
        url=delivery.endpoint.url,
        body=body.encode(),
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signing.signature_header(
                live_secrets(delivery.endpoint, now), msg_id=msg_id, timestamp=now, body=body
            ),
        },
    )


def retry_delay(attempts: int) -> int | None:
    """Seconds before the next attempt after `attempts` failed ones, with jitter; or None."""
    delays = settings.WEBHOOK_RETRY_DELAYS
    if attempts > len(delays):
        return None
    # ±20 % so that endpoints failing together are not retried in lockstep.
    return max(1, round(delays[attempts - 1] * random.uniform(0.8, 1.2)))


@transaction.atomic
def _start(delivery_id: int, now: datetime, *, on_schedule: bool) -> Request | None:
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("endpoint", "event")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        # Purged, or already delivered by an earlier run of this job.
        return None
    if not delivery.endpoint.enabled:
        delivery.status = DeliveryStatus.CANCELLED
        delivery.last_error = "The endpoint is disabled."
        delivery.save(update_fields=["status", "last_error"])
        return None
    due = delivery.next_attempt_at
    if on_schedule and due is not None:
        early = (due - now).total_seconds()
        if early > SCHEDULE_TOLERANCE_SECONDS:
            # Its own job came early: put it back for the time left.
            raise RetryLater(math.ceil(early))
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.next_attempt_at = None
    delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
    return build_request(delivery, now)


@transaction.atomic
def _finish(delivery_id: int, outcome: sender.Outcome, now: datetime) -> int | None:
    """Records the outcome; returns the seconds until the next attempt, if there is one."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    delivery.last_status_code = outcome.status_code
    delivery.response_excerpt = outcome.excerpt
    delivery.last_error = outcome.error
    retry_in = None
    if outcome.succeeded:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.delivered_at = now
        if endpoint.failing_since is not None:
            endpoint.failing_since = None
            endpoint.save(update_fields=["failing_since"])
    elif outcome.status_code == 410:
        delivery.status = DeliveryStatus.FAILED
        webhook_endpoint_disable(
            endpoint=endpoint, reason="The receiver answered 410 Gone.", actor=SYSTEM_ACTOR
        )
    else:
        if endpoint.failing_since is None:
            endpoint.failing_since = now
            endpoint.save(update_fields=["failing_since"])
        days = settings.WEBHOOK_DISABLE_AFTER_DAYS
        retry_in = retry_delay(delivery.attempts)
        if now - endpoint.failing_since >= timedelta(days=days):
            delivery.status = DeliveryStatus.FAILED
            retry_in = None
            webhook_endpoint_disable(
                endpoint=endpoint,
                reason=f"Every delivery failed for {days} days.",
                actor=SYSTEM_ACTOR,
            )
        elif retry_in is None:
            delivery.status = DeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = now + timedelta(seconds=retry_in)
    delivery.save()
    return retry_in


def attempt_delivery(
    delivery_id: int, *, now: datetime | None = None, on_schedule: bool = False
) -> None:
    """Sends the delivery once; raises RetryLater when another attempt is due.

    `on_schedule`: a delivery whose next attempt is still ahead (it failed while sent
    by the job ahead of it, below) is not sent now: RetryLater with the time left.
    """
    now = now or timezone.now()
    request = _start(delivery_id, now, on_schedule=on_schedule)
    if request is None:
        return
    outcome = sender.post(request.url, body=request.body, headers=request.headers)
    retry_in = _finish(delivery_id, outcome, timezone.now())
    if retry_in is not None:
        raise RetryLater(retry_in)


def deliver_following(lock: str, job_id: int) -> int:
    """Sends the deliveries queued on `lock` behind job `job_id`, which holds the lock
    and whose own delivery is settled; returns how many were settled.

    In queue order, each as `attempt_delivery` sends it; once one is settled its job is
    withdrawn, so that nothing fetches it again. The first that fails stops the run with
    its next attempt recorded: its own job, next on the lock, then waits for that time.
    Per-resource order is the queue's, and a delivery is settled before its job goes, so
    a worker that dies half way leaves jobs that finish the rest (at least once).
    """
    settled, after = 0, job_id
    deadline = time.monotonic() + FOLLOWING_MAX_SECONDS
    while settled < FOLLOWING_MAX_DELIVERIES:
        batch = min(FOLLOWING_BATCH, FOLLOWING_MAX_DELIVERIES - settled)
        queued = deliveries_queued_behind(lock, after, limit=batch)
        for item in queued:
            try:
                attempt_delivery(item.delivery_id, on_schedule=True)
            except RetryLater:
                return settled
            withdraw_job(item.job_id)
            settled, after = settled + 1, item.job_id
            if time.monotonic() >= deadline:
                return settled
        if len(queued) < batch:
            return settled
    return settled
