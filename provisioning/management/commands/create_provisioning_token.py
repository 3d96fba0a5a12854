from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.actors import Actor
from accounts.errors import AccountsError
from accounts.models import Organization
from provisioning.services import token_create


class Command(BaseCommand):
    help = (
        "Create a SCIM provisioning token for an organization. The secret is printed "
        "once, alone on the last line, and cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", help="The organization's slug.")
        parser.add_argument("--label", default="", help="A name to tell tokens apart.")
        parser.add_argument(
            "--expires-in-days", type=int, default=None, help="Expire after this many days."
        )

    def handle(self, *args, organization, label, expires_in_days, **options):
        org = Organization.objects.filter(slug=organization).first()
        if org is None:
            raise CommandError(f"No organization with slug {organization!r}.")
        expires_at = None
        if expires_in_days is not None:
            if expires_in_days < 1:
                raise CommandError("--expires-in-days must be at least 1.")
            expires_at = timezone.now() + timedelta(days=expires_in_days)
        try:
            token, secret = token_create(
                organization=org,
                label=label,
                actor=Actor.system("manage.py create_provisioning_token"),
                expires_at=expires_at,
            )
        except AccountsError as error:
            raise CommandError(str(error)) from None
        expiry = token.expires_at.isoformat() if token.expires_at else "never"
        self.stdout.write(
            f"Created provisioning token {token.prefix} for {org.slug} "
            f"(label {token.label or '-'}, expires {expiry})."
        )
        self.stdout.write("Copy the secret below now; it is not stored and cannot be shown again.")
        self.stdout.write(secret)
