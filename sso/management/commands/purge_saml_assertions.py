from django.core.management.base import BaseCommand

from sso.services import assertion_uses_purge


class Command(BaseCommand):
    help = "Forget used SAML assertion ids past their expiry (the ACS also does this as it goes)."

    def handle(self, *args, **options):
        self.stdout.write(f"Purged {assertion_uses_purge()} expired assertion ids.")
