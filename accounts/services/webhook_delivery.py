"""One delivery attempt: check, sign, send, record; the job queue decides when to retry.

The attempt is counted before the request goes out, in its own transaction, so an
attempt cut short by a killed worker still counts; the request itself runs outside any
transaction, and its outcome is recorded in another one.
"""

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.events.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from accounts.events.snapshots import event_body
from accounts.events.webhooks import sender, signing
from accounts.services.integrations import webhook_endpoint_disable

USER_AGENT = "Roster-Webhooks/1"
SYSTEM_ACTOR = Actor.system("webhook delivery")


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
def _start(delivery_id: int, now: datetime) -> Request | None:
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


def attempt_delivery(delivery_id: int, *, now: datetime | None = None) -> None:
    """Sends the delivery once; raises RetryLater when another attempt is due."""
    now = now or timezone.now()
    request = _start(delivery_id, now)
    if request is None:
        return
    outcome = sender.post(request.url, body=request.body, headers=request.headers)
    retry_in = _finish(delivery_id, outcome, timezone.now())
    if retry_in is not None:
        raise RetryLater(retry_in)
