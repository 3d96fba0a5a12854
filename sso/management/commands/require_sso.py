from django.core.management.base import BaseCommand, CommandError

from accounts.actors import Actor
from accounts.errors import AccountsError
from sso.selectors import organization_by_slug
from sso.services import sso_requirement_set


class Command(BaseCommand):
    help = (
        "Require single sign-on of an organization's members and admins (--on), or stop "
        "requiring it (--off); owners keep the break-glass password either way. --on needs "
        "an active sign-in connection. Audited as this command."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", help="Organization slug.")
        switch = parser.add_mutually_exclusive_group(required=True)
        switch.add_argument("--on", action="store_true", help="Require single sign-on.")
        switch.add_argument("--off", action="store_true", help="Stop requiring it.")

    def handle(self, *args, **options):
        organization = organization_by_slug(options["organization"])
        if organization is None:
            raise CommandError(f"No organization with slug {options['organization']!r}.")
        required = options["on"]
        try:
            sso_requirement_set(
                organization=organization,
                required=required,
                actor=Actor.system("require_sso command"),
                acting_user=None,
            )
        except AccountsError as exc:
            raise CommandError(str(exc)) from None
        if required:
            self.stdout.write(
                f"Members and admins of {organization.slug} sign in with single sign-on only."
            )
        else:
            self.stdout.write(
                f"Members and admins of {organization.slug} may sign in with a password again."
            )
