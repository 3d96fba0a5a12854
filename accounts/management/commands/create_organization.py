from django.core.management.base import BaseCommand, CommandError

from accounts.actors import Actor
from accounts.errors import AccountsError
from accounts.services import organization_create


class Command(BaseCommand):
    help = "Create an organization (a tenant)."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="URL-safe identifier, e.g. acme")
        parser.add_argument("--name", required=True, help="Display name, e.g. 'Acme Inc.'")

    def handle(self, *args, slug, name, **options):
        try:
            organization = organization_create(
                slug=slug, name=name, actor=Actor.system("create_organization command")
            )
        except AccountsError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Created organization {organization.slug} ({organization.name}).")
