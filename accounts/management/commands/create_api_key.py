from django.core.management.base import BaseCommand, CommandError

from accounts.actors import Actor
from accounts.errors import AccountsError
from accounts.models import Organization
from accounts.services.integrations import api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key for an organization's Events and directory API. The secret is "
        "printed once, alone on the last line, and cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", help="The organization's slug.")
        parser.add_argument("--label", required=True, help="The service that will use the key.")

    def handle(self, *args, organization, label, **options):
        org = Organization.objects.filter(slug=organization).first()
        if org is None:
            raise CommandError(f"No organization with slug {organization!r}.")
        try:
            key, secret = api_key_create(
                organization=org, label=label, actor=Actor.system("manage.py create_api_key")
            )
        except AccountsError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Created API key {key.prefix} for {org.slug} (label {key.label}).")
        self.stdout.write("Copy the secret below now; it is not stored and cannot be shown again.")
        self.stdout.write(secret)
