from django.core.management.base import BaseCommand, CommandError

from accounts.errors import AccountsError
from transfer.management.lookups import command_actor, group_named, organization_named
from transfer.models import Access
from transfer.services import folder_grant_remove, folder_grant_set


class Command(BaseCommand):
    help = "Grant a group a folder (read or write), or remove the grant with --remove."

    def add_arguments(self, parser):
        parser.add_argument("organization", help="The organization's slug.")
        parser.add_argument("--group", required=True, help="The group's displayName.")
        parser.add_argument("--path", required=True, help="The folder, e.g. /Finance.")
        parser.add_argument("--access", choices=Access.values)
        parser.add_argument("--remove", action="store_true", help="Remove the grant.")

    def handle(self, *args, organization, group, path, access, remove, **options):
        if remove == bool(access):
            raise CommandError("Pass --access read|write to grant, or --remove (not both).")
        owner = organization_named(organization)
        chosen = group_named(owner, group)
        actor = command_actor("transfer_folder")
        try:
            if remove:
                if not folder_grant_remove(group=chosen, path=path, actor=actor):
                    raise CommandError(f"{chosen.display_name} has no grant for {path!r}.")
                self.stdout.write(f"Removed {path} from {chosen.display_name}.")
                return
            grant = folder_grant_set(group=chosen, path=path, access=access, actor=actor)
        except AccountsError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{chosen.display_name}: {grant.path} ({grant.access}).")
