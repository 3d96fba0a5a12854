from django.conf import settings
from django.core.management.base import BaseCommand

from provisioning.services import scim_requests_purge


class Command(BaseCommand):
    help = "Delete SCIM request log rows older than SCIM_LOG_RETENTION_DAYS (run it daily)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Keep this many days instead (default {settings.SCIM_LOG_RETENTION_DAYS}).",
        )

    def handle(self, *args, days=None, **options):
        if days is not None and days < 1:
            self.stderr.write("--days must be at least 1.")
            raise SystemExit(2)
        purged = scim_requests_purge(retention_days=days)
        self.stdout.write(f"Purged {purged} SCIM request log rows.")
