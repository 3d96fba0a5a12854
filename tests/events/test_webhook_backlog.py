"""The job that holds a resource's lock sends the deliveries queued behind it, in order.

On PostgreSQL, where the deliveries have procrastinate jobs: the jobs are those the
services queued, and the head job's part is played by calling what its task calls.
"""

import json

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob

from accounts.events.fanout import DELIVER_TASK, deliveries_queued_behind, delivery_lock
from accounts.events.models import DeliveryStatus, WebhookDelivery
from accounts.services import user_update
from accounts.services import webhook_delivery as delivery_service
from accounts.services.webhook_delivery import RetryLater, attempt_delivery, deliver_following
from tests.events.receiver import Answer
from tests.load.conftest import requires_postgresql

pytestmark = [requires_postgresql, pytest.mark.django_db]


@pytest.fixture
def ann_backlog(organization, receiver, make_endpoint, make_user, system_actor):
    """Ann created, then retitled four times: five deliveries on one lock."""
    endpoint, _ = make_endpoint(organization, receiver.url)
    ann = make_user(organization, "ann@acme.example")
    for title in ("CFO", "CEO", "Chair", "Advisor"):
        user_update(user=ann, actor=system_actor, title=title)
    lock = delivery_lock(endpoint.pk, ann.pk)
    jobs = list(ProcrastinateJob.objects.filter(lock=lock).order_by("id"))
    deliveries = list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id"))
    assert [job.args["delivery_id"] for job in jobs] == [d.pk for d in deliveries]
    return lock, jobs, deliveries


def versions(receiver) -> list[int]:
    return [json.loads(request.body)["data"]["user"]["version"] for request in receiver.received]


def statuses(deliveries) -> list[str]:
    return [WebhookDelivery.objects.get(pk=d.pk).status for d in deliveries]


def test_the_head_job_sends_its_backlog_in_order_and_withdraws_the_jobs(ann_backlog, receiver):
    lock, jobs, deliveries = ann_backlog
    attempt_delivery(deliveries[0].pk, on_schedule=True)

    assert deliver_following(lock, jobs[0].pk) == 4
    assert versions(receiver) == [1, 2, 3, 4, 5]
    assert statuses(deliveries) == [DeliveryStatus.SUCCEEDED] * 5
    # Only the head's job is left; nothing fetches the others again.
    assert list(ProcrastinateJob.objects.filter(lock=lock).values_list("id", flat=True)) == [
        jobs[0].pk
    ]


def test_a_failure_stops_the_run_and_its_job_waits_for_the_next_attempt(ann_backlog, receiver):
    lock, jobs, deliveries = ann_backlog
    receiver.script = [Answer(status=200), Answer(status=200), Answer(status=503)]
    attempt_delivery(deliveries[0].pk, on_schedule=True)

    assert deliver_following(lock, jobs[0].pk) == 1
    assert versions(receiver) == [1, 2, 3]
    assert statuses(deliveries) == [DeliveryStatus.SUCCEEDED] * 2 + [DeliveryStatus.PENDING] * 3
    third = WebhookDelivery.objects.get(pk=deliveries[2].pk)
    assert (third.attempts, third.next_attempt_at is not None) == (1, True)
    # The failed delivery's job is next on the lock; fetched at once, it is not due yet.
    assert [q.delivery_id for q in deliveries_queued_behind(lock, jobs[0].pk, limit=10)] == [
        d.pk for d in deliveries[2:]
    ]
    with pytest.raises(RetryLater) as not_yet:
        attempt_delivery(deliveries[2].pk, on_schedule=True)
    assert 1 <= not_yet.value.seconds <= 6
    assert len(receiver.received) == 3


def test_a_due_delivery_is_sent_when_its_job_comes_back(ann_backlog, receiver, settings):
    lock, jobs, deliveries = ann_backlog
    receiver.script = [Answer(status=503)]
    with pytest.raises(RetryLater):
        attempt_delivery(deliveries[0].pk, on_schedule=True)
    WebhookDelivery.objects.filter(pk=deliveries[0].pk).update(next_attempt_at=None)

    attempt_delivery(deliveries[0].pk, on_schedule=True)
    assert deliver_following(lock, jobs[0].pk) == 4
    assert versions(receiver) == [1, 1, 2, 3, 4, 5]


def test_a_run_is_bounded_and_the_next_job_carries_on(ann_backlog, receiver, monkeypatch):
    lock, jobs, deliveries = ann_backlog
    monkeypatch.setattr(delivery_service, "FOLLOWING_MAX_DELIVERIES", 2)
    monkeypatch.setattr(delivery_service, "FOLLOWING_BATCH", 1)
    attempt_delivery(deliveries[0].pk, on_schedule=True)

    assert deliver_following(lock, jobs[0].pk) == 2
    assert versions(receiver) == [1, 2, 3]
    # The next job left on the lock is the fourth delivery's, which sends the rest.
    [fourth, _fifth] = deliveries_queued_behind(lock, jobs[0].pk, limit=10)
    assert (fourth.job_id, fourth.delivery_id) == (jobs[3].pk, deliveries[3].pk)
    attempt_delivery(fourth.delivery_id, on_schedule=True)
    assert deliver_following(lock, fourth.job_id) == 1
    assert versions(receiver) == [1, 2, 3, 4, 5]


def test_only_the_same_lock_and_task_are_sent(
    ann_backlog, organization, make_user, receiver, system_actor
):
    lock, jobs, deliveries = ann_backlog
    bob = make_user(organization, "bob@acme.example")
    user_update(user=bob, actor=system_actor, title="CTO")
    attempt_delivery(deliveries[0].pk, on_schedule=True)

    assert deliver_following(lock, jobs[0].pk) == 4
    sent_to = {json.loads(r.body)["data"]["user"]["id"] for r in receiver.received}
    assert sent_to == {str(deliveries[0].event.resource_id)}
    assert ProcrastinateJob.objects.filter(task_name=DELIVER_TASK).count() == 1 + 2
