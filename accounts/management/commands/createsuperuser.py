"""createsuperuser for Roster, in place of django.contrib.auth's (accounts comes before
it in INSTALLED_APPS). Django's command writes through the user manager; here a platform
operator is made by accounts.services.operator_create, as every other write is, so the
model layer never reaches into the services.
"""

import getpass
import os

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.errors import AccountsError
from accounts.models import User
from accounts.services import operator_create

PASSWORD_VARIABLE = "DJANGO_SUPERUSER_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create a platform operator: a superuser of the operations admin, in no "
        f"organization. With --noinput the password comes from {PASSWORD_VARIABLE} "
        "(unset: the operator cannot sign in with a password)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", help="The operator's username.")
        parser.add_argument("--email", default="", help="The operator's email address.")
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Ask nothing; needs --username.",
        )

    def handle(self, *args, username, email, interactive, **options):
        if interactive:
            username = username or input("Username: ")
            password = self._ask_password()
        else:
            if not username:
                raise CommandError("--username is required with --noinput.")
            password = os.environ.get(PASSWORD_VARIABLE) or None
        if password is not None:
            try:
                validate_password(password, User(username=username, email=email))
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from error
        try:
            operator = operator_create(username=username, email=email, password=password)
        except AccountsError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Operator {operator.username} created.")

    def _ask_password(self) -> str:
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The passwords did not match.")
        return first
