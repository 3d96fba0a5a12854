"""Webhook deliveries for new events, queued in the transaction that wrote the events.

One `WebhookDelivery` per event and interested endpoint, and one procrastinate job per
delivery. The job's lock names the endpoint and the resource, so procrastinate runs the
deliveries of one resource to one endpoint one at a time, in the order they were queued,
a retrying delivery holding back the later ones (per-resource order).

The job that holds a lock also sends the deliveries queued behind it, in order, and
withdraws their jobs (accounts.services.webhook_delivery.deliver_following): a backlog
then drains at the receiver's speed instead of one job cycle per event.
"""

from dataclasses import dataclass

from django.db import connection

from accounts.events.models import DirectoryEvent, WebhookDelivery, WebhookEndpoint
from accounts.models import Organization

DELIVER_TASK = "webhooks.deliver"
DELIVER_QUEUE = "webhooks"


def queue_available() -> bool:
    """procrastinate runs on PostgreSQL only; on SQLite no job can be queued."""
    return connection.vendor == "postgresql"


def delivery_lock(endpoint_id, resource_id) -> str:
    return f"webhook:{endpoint_id}:{resource_id}"


@dataclass(frozen=True)
class QueuedDelivery:
    job_id: int
    delivery_id: int


def deliveries_queued_behind(lock: str, job_id: int, *, limit: int) -> list[QueuedDelivery]:
    """The next `limit` delivery jobs waiting on `lock` after `job_id`, in the order
    procrastinate would run them (same priority: by id). One index scan (accounts
    migration 0020)."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    jobs = (
        ProcrastinateJob.objects.filter(
            lock=lock, status="todo", task_name=DELIVER_TASK, id__gt=job_id
        )
        .order_by("id")
        .values_list("id", "args")[:limit]
    )
    return [QueuedDelivery(job_id=id, delivery_id=args["delivery_id"]) for id, args in jobs]


def withdraw_job(job_id: int) -> None:
    """Deletes a delivery job that has nothing left to do, if it is still waiting.

    procrastinate's own cancel, on Django's connection (in the caller's transaction, if
    any), not on the worker's pool: the job runs in a thread beside the worker's loop.
    """
    from procrastinate.contrib.django.django_connector import DjangoConnector
    from procrastinate.manager import JobManager

    JobManager(DjangoConnector()).cancel_job_by_id(job_id, delete_job=True)


# Whether the organization had enabled endpoints when it was loaded (see below).
ENDPOINTS_EXIST = "enabled_webhook_endpoints_exist"


def enabled_endpoints_exist_sql(organization_id: str) -> str:
    """SQL for whether the organization has an enabled endpoint, for a statement that
    loads the organization anyway (the SCIM token's); `organization_id` is the SQL of
    its id (a quoted column).

    Noted on the Organization with `note_enabled_endpoints`, a "no" spares each write
    of the request the endpoint lookup below: most organizations have no webhooks.
    An endpoint enabled while the request runs waits for the next request, as one
    enabled after the lookup would.
    """
    meta, quote = WebhookEndpoint._meta, connection.ops.quote_name
    # Identifiers from the model; no values.
    return (
        f"EXISTS (SELECT 1 FROM {quote(meta.db_table)} "  # noqa: S608
        f"WHERE {quote(meta.get_field('organization').column)} = {organization_id} "
        f"AND {quote(meta.get_field('enabled').column)})"
    )


def note_enabled_endpoints(organization: Organization, exist: bool) -> None:
    setattr(organization, ENDPOINTS_EXIST, exist)


def queue_deliveries(
    events: list[DirectoryEvent], *, organization: Organization | None = None
) -> list[WebhookDelivery]:
    if organization is not None and getattr(organization, ENDPOINTS_EXIST, True) is False:
        return []
    organization_id = events[0].organization_id
    endpoints = list(WebhookEndpoint.objects.filter(organization_id=organization_id, enabled=True))
    if not endpoints:
        return []
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(event=event, endpoint=endpoint)
            for event in events
            for endpoint in endpoints
            if endpoint.wants(event.type)
        ]
    )
    for delivery in deliveries:
        enqueue_delivery(delivery)
    return deliveries


def enqueue_delivery(delivery: WebhookDelivery) -> None:
    """Queue the job that sends `delivery`; it commits (or rolls back) with the caller.

    On SQLite there is no queue: the delivery stays pending, and the console says that
    webhooks need PostgreSQL (docs/events.md).
    """
    if not queue_available():
        return
    from procrastinate.contrib.django import app

    resource = delivery.event.resource_id if delivery.event is not None else "test"
    # By name: the task (accounts.tasks) calls the services, which call this module.
    app.configure_task(
        DELIVER_TASK, queue=DELIVER_QUEUE, lock=delivery_lock(delivery.endpoint_id, resource)
    ).defer(delivery_id=delivery.pk)
