from django.core.management.base import BaseCommand, CommandError

from accounts.errors import AccountsError
from transfer.management.lookups import command_actor, group_named, organization_named
from transfer.models import TransferMode
from transfer.services import transfer_policy_set


class Command(BaseCommand):
    help = "Turn an organization's file transfer off, on for everyone, or on for some groups."

    def add_arguments(self, parser):
        parser.add_argument("organization", help="The organization's slug.")
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--off", action="store_true")
        mode.add_argument("--everyone", action="store_true")
        mode.add_argument("--groups", help='Comma-separated group names: "Finance,Ops".')

    def handle(self, *args, organization, off, everyone, groups, **options):
        owner = organization_named(organization)
        chosen = []
        if groups is not None:
            names = [name for name in groups.split(",") if name.strip()]
            if not names:
                raise CommandError("--groups needs at least one group name.")
            chosen = [group_named(owner, name) for name in names]
        mode = (
            TransferMode.OFF if off else TransferMode.EVERYONE if everyone else TransferMode.GROUPS
        )
        try:
            policy = transfer_policy_set(
                organization=owner,
                mode=mode,
                groups=chosen,
                actor=command_actor("transfer_settings"),
            )
        except AccountsError as error:
            raise CommandError(str(error)) from None
        names = sorted(group.display_name for group in policy.scope_groups.all())
        suffix = f": {', '.join(names)}" if mode == TransferMode.GROUPS else ""
        self.stdout.write(f"File transfer for {owner.slug}: {policy.get_mode_display()}{suffix}")
