from django.core.management.base import BaseCommand, CommandError

from accounts.actors import Actor
from accounts.errors import AccountsError
from accounts.models import Organization
from accounts.services.integrations import webhook_endpoint_create


class Command(BaseCommand):
    help = (
        "Register a webhook endpoint for an organization. The signing secret is printed "
        "once, alone on the last line, and cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", help="The organization's slug.")
        parser.add_argument("url", help="The https:// address that receives the events.")
        parser.add_argument(
            "--events",
            default="",
            help="Comma-separated event types, e.g. user.deactivated,group.member_added "
            "(default: every type).",
        )

    def handle(self, *args, organization, url, events, **options):
        org = Organization.objects.filter(slug=organization).first()
        if org is None:
            raise CommandError(f"No organization with slug {organization!r}.")
        try:
            endpoint, secret = webhook_endpoint_create(
                organization=org,
                url=url,
                event_types=events.split(","),
                actor=Actor.system("manage.py create_webhook_endpoint"),
            )
        except AccountsError as error:
            raise CommandError(str(error)) from None
        types = ", ".join(endpoint.event_types) or "every type"
        self.stdout.write(f"Registered webhook endpoint {endpoint.url} for {org.slug} ({types}).")
        self.stdout.write("Copy the signing secret below now; it cannot be shown again.")
        self.stdout.write(secret)
