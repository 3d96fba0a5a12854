from django.core.management.base import BaseCommand, CommandError

from accounts.actors import Actor
from accounts.errors import AccountsError
from sso.selectors import organization_by_slug
from sso.services import sp_key_activate_next, sp_key_stage_next


class Command(BaseCommand):
    help = (
        "Roll the SP signing certificate over without downtime: --stage publishes the next "
        "certificate in metadata; once the IdP has it, --activate switches signing to it."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", help="Organization slug.")
        step = parser.add_mutually_exclusive_group(required=True)
        step.add_argument("--stage", action="store_true")
        step.add_argument("--activate", action="store_true")

    def handle(self, *args, **options):
        organization = organization_by_slug(options["organization"])
        if organization is None:
            raise CommandError(f"No organization with slug {options['organization']!r}.")
        actor = Actor.system("rotate_saml_sp_key command")
        try:
            if options["stage"]:
                key = sp_key_stage_next(organization=organization, actor=actor)
                self.stdout.write(
                    f"Next SP certificate published (valid until {key.not_after:%Y-%m-%d})."
                )
            else:
                key = sp_key_activate_next(organization=organization, actor=actor)
                self.stdout.write(
                    f"SP now signs with the certificate valid until {key.not_after:%Y-%m-%d}."
                )
        except AccountsError as exc:
            raise CommandError(str(exc)) from None
