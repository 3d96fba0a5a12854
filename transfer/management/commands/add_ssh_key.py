from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.errors import AccountsError
from transfer.management.lookups import command_actor, organization_named, user_named
from transfer.models import CredentialSource
from transfer.services import ssh_key_add
from transfer.ssh_keys import MAX_LINE_BYTES, KeyRefused


class Command(BaseCommand):
    help = "Add an SSH public key (a .pub file) for a person."

    def add_arguments(self, parser):
        parser.add_argument("organization", help="The organization's slug.")
        parser.add_argument("username", help="The person's userName.")
        parser.add_argument("--key-file", required=True, help="The public key file (.pub).")
        parser.add_argument("--label", default="", help="Defaults to the key's comment.")

    def handle(self, *args, organization, username, key_file, label, **options):
        owner = organization_named(organization)
        user = user_named(owner, username)
        path = Path(key_file)
        try:
            if path.stat().st_size > MAX_LINE_BYTES + 2:
                raise CommandError(f"{key_file} is larger than an SSH public key.")
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {key_file}: {error.__class__.__name__}.") from None
        try:
            key = ssh_key_add(
                user=user,
                public_key=text,
                label=label,
                source=CredentialSource.ADMIN,
                actor=command_actor("add_ssh_key"),
            )
        except (KeyRefused, AccountsError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Added {key.key_type} key {key.fingerprint} for {user.username}.")
