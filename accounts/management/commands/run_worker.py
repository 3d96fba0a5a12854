import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.events.fanout import queue_available


class Command(BaseCommand):
    help = (
        "Run the job worker: webhook deliveries and their retries, the event and SCIM "
        "request log purges. "
        "SIGTERM stops it cleanly: it takes no new job and finishes the ones in hand."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency", type=int, default=settings.WORKER_CONCURRENCY, help="Jobs at once."
        )

    def handle(self, *args, concurrency, **options):
        if not queue_available():
            raise CommandError(
                "The worker runs on PostgreSQL (procrastinate's queue); set DATABASE_URL to a "
                "PostgreSQL database. See docs/events.md."
            )
        from procrastinate.contrib.django import app

        from accounts.tasks import retry_stalled

        async def run():
            async with app.open_async():
                recovered = await retry_stalled(app.job_manager)
                if recovered:
                    self.stdout.write(f"Requeued {recovered} jobs of stopped workers.")
                await app.run_worker_async(
                    queues=["webhooks", "maintenance"],
                    concurrency=concurrency,
                    fetch_job_polling_interval=settings.WORKER_POLL_SECONDS,
                    update_heartbeat_interval=settings.WORKER_HEARTBEAT_SECONDS,
                    stalled_worker_timeout=settings.WORKER_STALLED_SECONDS,
                    shutdown_graceful_timeout=settings.WORKER_SHUTDOWN_SECONDS,
                    install_signal_handlers=True,
                )

        # The web process shares Django's connection with procrastinate; the worker
        # gets its own pool (with LISTEN/NOTIFY), as procrastinate's own command does.
        with app.replace_connector(app.connector.get_worker_connector()):
            asyncio.run(run())
        self.stdout.write("Worker stopped.")
