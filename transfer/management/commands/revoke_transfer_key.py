from django.core.management.base import BaseCommand, CommandError

from transfer.management.lookups import command_actor
from transfer.models import TransferKey
from transfer.services import transfer_key_revoke


class Command(BaseCommand):
    help = "Revoke a transfer key by its prefix; file servers using it are refused at once."

    def add_arguments(self, parser):
        parser.add_argument("prefix", help="The key's prefix: rtk_ and the 8 characters after it.")

    def handle(self, *args, prefix, **options):
        prefix = prefix.removeprefix("rtk_").split(".")[0]
        key = TransferKey.objects.filter(prefix=prefix).first()
        if key is None:
            raise CommandError(f"No transfer key with prefix {prefix!r}.")
        if key.revoked_at is not None:
            raise CommandError(f"Transfer key {prefix} was already revoked.")
        transfer_key_revoke(key=key, actor=command_actor("revoke_transfer_key"))
        self.stdout.write(f"Revoked transfer key {key.prefix} ({key.label}).")
