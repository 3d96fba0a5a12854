"""Webhook attempts against a local receiver: signatures, retries, disabling, rotation."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from accounts.events.models import DeliveryStatus, EventType, WebhookDelivery
from accounts.events.snapshots import event_body
from accounts.models import AuditAction, AuditEvent
from accounts.services import user_update
from accounts.services.integrations import (
    webhook_delivery_resend,
    webhook_endpoint_update,
    webhook_secret_rotate,
    webhook_send_test,
)
from accounts.services.webhook_delivery import RetryLater, attempt_delivery, live_secrets
from tests.events.receiver import Answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(organization, receiver, make_endpoint):
    endpoint, secret = make_endpoint(organization, receiver.url)
    return endpoint, secret


def only_delivery(endpoint):
    [delivery] = WebhookDelivery.objects.filter(endpoint=endpoint)
    return delivery


def test_a_delivery_is_signed_per_standard_webhooks(hook, organization, make_user, receiver):
    endpoint, secret = hook
    make_user(organization, "ann@acme.example")
    delivery = only_delivery(endpoint)

    attempt_delivery(delivery.pk)

    [request] = receiver.received
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert Webhook(secret).verify(request.body, headers) == event_body(delivery.event)
    assert headers["webhook-id"] == str(delivery.event_id)
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"] == "application/json"
    assert request.path == "/hooks"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.SUCCEEDED,
        1,
        200,
    )


def test_a_500_schedules_a_retry_with_jitter(hook, organization, make_user, receiver, settings):
    endpoint, _ = hook
    receiver.default = Answer(status=500, body=b"database on fire")
    make_user(organization)
    delivery = only_delivery(endpoint)

    with pytest.raises(RetryLater) as retry:
        attempt_delivery(delivery.pk)

    first_delay = settings.WEBHOOK_RETRY_DELAYS[0]
    assert 0.8 * first_delay - 1 <= retry.value.seconds <= 1.2 * first_delay + 1
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.PENDING,
        1,
        500,
    )
    assert delivery.response_excerpt == "database on fire"
    assert delivery.next_attempt_at is not None
    assert endpoint.failing_since is not None


def test_a_timeout_is_retried(hook, organization, make_user, receiver, settings):
    endpoint, _ = hook
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    receiver.script = [Answer(delay=2)]
    make_user(organization)
    delivery = only_delivery(endpoint)

    with pytest.raises(RetryLater):
        attempt_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.last_error == "No answer within 1 seconds."
    assert delivery.status == DeliveryStatus.PENDING


def test_delivery_succeeds_once_the_receiver_is_back(hook, organization, make_user, receiver):
    endpoint, _ = hook
    receiver.script = [Answer(status=500), Answer(status=503)]
    make_user(organization)
    delivery = only_delivery(endpoint)
    for _ in range(2):
        with pytest.raises(RetryLater):
            attempt_delivery(delivery.pk)
    attempt_delivery(delivery.pk)

    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 3)
    assert endpoint.failing_since is None
    assert [request.answered for request in receiver.received] == [500, 503, 200]


def test_a_succeeded_delivery_is_not_sent_again(hook, organization, make_user, receiver):
    endpoint, _ = hook
    make_user(organization)
    delivery = only_delivery(endpoint)
    attempt_delivery(delivery.pk)
    attempt_delivery(delivery.pk)
    assert len(receiver.received) == 1


def test_410_disables_the_endpoint_and_says_why(hook, organization, make_user, receiver):
    endpoint, _ = hook
    receiver.default = Answer(status=410)
    ann = make_user(organization)
    attempt_delivery(only_delivery(endpoint).pk)

    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert endpoint.disabled_reason == "The receiver answered 410 Gone."
    assert AuditEvent.objects.filter(
        action=AuditAction.WEBHOOK_DISABLED, target_id=str(endpoint.pk)
    ).exists()
    assert only_delivery(endpoint).status == DeliveryStatus.FAILED
    # A disabled endpoint gets no new deliveries.
    user_update(user=ann, actor=endpoint_actor(), title="CFO")
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1


def endpoint_actor():
    from accounts.actors import Actor

    return Actor.system("tests")


def test_days_of_failures_disable_the_endpoint(hook, organization, make_user, receiver, settings):
    endpoint, _ = hook
    receiver.default = Answer(status=500)
    make_user(organization)
    type(endpoint).objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS, hours=1)
    )
    attempt_delivery(only_delivery(endpoint).pk)

    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert endpoint.disabled_reason == (
        f"Every delivery failed for {settings.WEBHOOK_DISABLE_AFTER_DAYS} days."
    )
    assert only_delivery(endpoint).status == DeliveryStatus.FAILED


def test_a_delivery_fails_when_the_retries_run_out(
    hook, organization, make_user, receiver, settings
):
    endpoint, _ = hook
    settings.WEBHOOK_RETRY_DELAYS = [1]
    receiver.default = Answer(status=500)
    make_user(organization)
    delivery = only_delivery(endpoint)
    with pytest.raises(RetryLater):
        attempt_delivery(delivery.pk)
    attempt_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 2)


def test_a_disabled_endpoints_pending_delivery_is_cancelled(
    hook, organization, make_user, receiver, system_actor
):
    endpoint, _ = hook
    make_user(organization)
    webhook_endpoint_update(endpoint=endpoint, enabled=False, actor=system_actor)
    attempt_delivery(only_delivery(endpoint).pk)
    assert receiver.received == []
    assert only_delivery(endpoint).status == DeliveryStatus.CANCELLED


def test_rotation_signs_with_both_secrets_until_the_old_one_expires(
    hook, organization, make_user, receiver, system_actor, settings
):
    endpoint, old_secret = hook
    new_secret = webhook_secret_rotate(endpoint=endpoint, actor=system_actor)
    make_user(organization)
    attempt_delivery(only_delivery(endpoint).pk)

    [request] = receiver.received
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    for secret in (old_secret, new_secret):
        Webhook(secret).verify(request.body, request.headers)
    later = timezone.now() + timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS, minutes=1)
    assert live_secrets(endpoint, later) == [new_secret]


def test_redirects_are_not_followed(hook, organization, make_user, receiver):
    endpoint, _ = hook
    receiver.default = Answer(status=302, headers={"Location": receiver.url + "/elsewhere"})
    make_user(organization)
    delivery = only_delivery(endpoint)
    with pytest.raises(RetryLater):
        attempt_delivery(delivery.pk)
    assert [request.path for request in receiver.received] == ["/hooks"]
    delivery.refresh_from_db()
    assert delivery.last_status_code == 302


def test_the_event_filter_keeps_other_types_away(organization, receiver, make_endpoint, make_user):
    endpoint, _ = make_endpoint(
        organization, receiver.url, event_types=[EventType.USER_DEACTIVATED]
    )
    make_user(organization)
    assert not WebhookDelivery.objects.filter(endpoint=endpoint).exists()


def test_a_rolled_back_change_queues_no_delivery(hook, organization, make_user):
    endpoint, _ = hook
    with pytest.raises(RuntimeError), transaction.atomic():
        make_user(organization)
        raise RuntimeError("the request failed")
    assert not WebhookDelivery.objects.filter(endpoint=endpoint).exists()


def test_test_message_and_resend_keep_their_webhook_ids(
    hook, organization, make_user, receiver, system_actor
):
    endpoint, secret = hook
    make_user(organization)
    first = only_delivery(endpoint)
    attempt_delivery(first.pk)
    again = webhook_delivery_resend(delivery=first, actor=system_actor)
    attempt_delivery(again.pk)
    test = webhook_send_test(endpoint=endpoint, actor=system_actor)
    attempt_delivery(test.pk)

    ids = [request.headers["webhook-id"] for request in receiver.received]
    assert ids == [str(first.event_id), str(first.event_id), f"test-{test.pk}"]
    assert (
        Webhook(secret).verify(receiver.received[2].body, receiver.received[2].headers)["type"]
        == "webhook.test"
    )
