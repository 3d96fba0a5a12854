from django.core.management.base import BaseCommand, CommandError

from accounts.errors import AccountsError
from transfer.management.lookups import command_actor, organization_named
from transfer.services import transfer_key_create


class Command(BaseCommand):
    help = (
        "Create a transfer key for file servers: one organization's, or with --platform "
        "every organization's. The secret is printed once, alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", nargs="?", help="The organization's slug.")
        parser.add_argument(
            "--platform", action="store_true", help="A key that decides for every organization."
        )
        parser.add_argument("--label", required=True, help="The file server that will use it.")

    def handle(self, *args, organization, platform, label, **options):
        if platform == bool(organization):
            raise CommandError("Name an organization, or pass --platform (not both).")
        owner = None if platform else organization_named(organization)
        try:
            key, secret = transfer_key_create(
                organization=owner, label=label, actor=command_actor("create_transfer_key")
            )
        except AccountsError as error:
            raise CommandError(str(error)) from None
        scope = "every organization" if platform else owner.slug
        self.stdout.write(f"Created transfer key {key.prefix} for {scope} (label {key.label}).")
        self.stdout.write("Copy the secret below now; it is not stored and cannot be shown again.")
        self.stdout.write(secret)
