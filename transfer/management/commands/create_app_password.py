from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.errors import AccountsError
from transfer.management.lookups import command_actor, organization_named, user_named
from transfer.models import CredentialSource
from transfer.services import app_password_create


class Command(BaseCommand):
    help = (
        "Create an app password for a person (FTPS, WebDAV, password-only SFTP clients). "
        "The secret is printed once, alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", help="The organization's slug.")
        parser.add_argument("username", help="The person's userName.")
        parser.add_argument("--label", required=True, help="Where it will be used.")
        parser.add_argument("--expires-days", type=int, help="Days until it expires.")

    def handle(self, *args, organization, username, label, expires_days, **options):
        owner = organization_named(organization)
        user = user_named(owner, username)
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            password, secret = app_password_create(
                user=user,
                label=label,
                source=CredentialSource.ADMIN,
                expires_at=expires_at,
                actor=command_actor("create_app_password"),
            )
        except AccountsError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Created app password {password.prefix} for {user.username}.")
        self.stdout.write("Copy the secret below now; it is not stored and cannot be shown again.")
        self.stdout.write(secret)
