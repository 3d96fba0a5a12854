"""The worker's jobs (procrastinate): deliveries, the event purge, domain re-checks,
stalled-job recovery."""

from django.conf import settings
from django.db import close_old_connections
from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.contrib.django import app

from accounts.events.fanout import DELIVER_QUEUE, DELIVER_TASK
from accounts.services.domains import domains_recheck_verified
from accounts.services.integrations import events_purge
from accounts.services.webhook_delivery import RetryLater, attempt_delivery, deliver_following

# A job that fails unexpectedly (the database away, a bug) is retried this many times.
UNEXPECTED_FAILURE_RETRIES = 10
UNEXPECTED_FAILURE_DELAY_SECONDS = 60


class DeliveryRetry(BaseRetryStrategy):
    """The delivery decides its own schedule (WEBHOOK_RETRY_DELAYS, with jitter).

    Retrying the same job, rather than queueing a new one, keeps its place in its
    lock's queue: the later deliveries of the same resource wait behind it.
    """

    def get_retry_decision(self, *, exception, job):
        if isinstance(exception, RetryLater):
            return RetryDecision(retry_in={"seconds": exception.seconds})
        if job.attempts < UNEXPECTED_FAILURE_RETRIES:
            return RetryDecision(retry_in={"seconds": UNEXPECTED_FAILURE_DELAY_SECONDS})
        return None


@app.task(name=DELIVER_TASK, queue=DELIVER_QUEUE, retry=DeliveryRetry(), pass_context=True)
def deliver_webhook(context, delivery_id: int) -> None:
    """Sends the delivery, then, while this job still holds its resource's lock, the
    deliveries queued behind it (accounts.services.webhook_delivery.deliver_following)."""
    # Outside a request cycle Django does not recycle connections by itself.
    close_old_connections()
    try:
        attempt_delivery(delivery_id, on_schedule=True)
        if context.job.lock:
            deliver_following(context.job.lock, context.job.id)
    finally:
        close_old_connections()


@app.periodic(cron="17 3 * * *", periodic_id="events.purge")
@app.task(name="events.purge", queue="maintenance", queueing_lock="events.purge")
def purge_events(timestamp: int) -> int:
    close_old_connections()
    try:
        return events_purge()
    finally:
        close_old_connections()


@app.periodic(cron="29 4 * * *", periodic_id="domains.recheck")
@app.task(name="domains.recheck", queue="maintenance", queueing_lock="domains.recheck")
def recheck_domains(timestamp: int) -> int:
    """Verified domains whose record is gone are flagged, then unverified after the grace."""
    close_old_connections()
    try:
        return domains_recheck_verified()
    finally:
        close_old_connections()


async def retry_stalled(job_manager) -> int:
    """Put back in the queue the jobs of workers that stopped sending heartbeats.

    A worker killed mid-delivery (SIGKILL, a lost machine) leaves its job in `doing`;
    the delivery was counted but not recorded, so it is simply attempted again.
    """
    stalled = await job_manager.get_stalled_jobs(
        seconds_since_heartbeat=settings.WORKER_STALLED_SECONDS
    )
    for job in stalled:
        await job_manager.retry_job(job)
    return len(stalled)


@app.periodic(cron="* * * * *", periodic_id="jobs.retry_stalled")
@app.task(
    name="jobs.retry_stalled",
    queue="maintenance",
    queueing_lock="jobs.retry_stalled",
    pass_context=True,
)
async def retry_stalled_jobs(context, timestamp: int) -> int:
    return await retry_stalled(context.app.job_manager)
