from django.core.management.base import BaseCommand

from accounts.services import domains_recheck_verified


class Command(BaseCommand):
    help = (
        "Check every verified domain's DNS record again, as the job worker does daily: a "
        "domain whose record is gone is flagged, and unverified after DOMAIN_RECHECK_GRACE_DAYS."
    )

    def handle(self, *args, **options):
        self.stdout.write(f"Checked {domains_recheck_verified()} verified domains.")
