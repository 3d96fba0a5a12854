import getpass
import secrets

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.actors import Actor
from accounts.errors import AccountsError
from accounts.models import Organization, Role, Source
from accounts.selectors import user_by_username
from accounts.services import user_create, user_set_password, user_set_role


class Command(BaseCommand):
    help = (
        "Create an owner of an organization who signs in to the console by email and password. "
        "Without --password, asks for one (or prints a generated one when not interactive)."
    )

    def add_arguments(self, parser):
        parser.add_argument("org_slug")
        parser.add_argument("email")
        parser.add_argument("--password", help="The password; omit to be prompted.")
        parser.add_argument(
            "--role", choices=[Role.OWNER, Role.ADMIN], default=Role.OWNER, help="Console role."
        )

    def handle(self, *args, org_slug, email, password, role, **options):
        try:
            organization = Organization.objects.get(slug=org_slug)
        except Organization.DoesNotExist:
            raise CommandError(f"No organization with slug {org_slug!r}.") from None
        generated = False
        if password is None:
            password, generated = self._ask_password(options.get("interactive", True))
        try:
            validate_password(password)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        actor = Actor.system("create_org_admin command")
        try:
            with transaction.atomic():
                user = user_by_username(organization, email)
                if user is None:
                    user = user_create(
                        organization=organization,
                        username=email,
                        email=email,
                        role=role,
                        source=Source.MANUAL,
                        password=password,
                        actor=actor,
                    )
                else:
                    user_set_role(user=user, role=role, actor=actor)
                    user_set_password(user=user, password=password, actor=actor)
        except AccountsError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{user.email} is now {role} of {organization.slug}.")
        if generated:
            self.stdout.write("Generated password (shown once):")
            self.stdout.write(password)

    def _ask_password(self, interactive: bool) -> tuple[str, bool]:
        if interactive and self.stdin_is_tty():
            first = getpass.getpass("Password: ")
            if first != getpass.getpass("Password (again): "):
                raise CommandError("The passwords did not match.")
            return first, False
        return secrets.token_urlsafe(18), True

    def stdin_is_tty(self) -> bool:
        import sys

        return sys.stdin.isatty()
