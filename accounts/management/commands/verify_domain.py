from django.core.management.base import BaseCommand, CommandError

from accounts.actors import Actor
from accounts.errors import AccountsError
from accounts.management.commands.domains import describe
from accounts.models import Organization
from accounts.selectors import domain_by_name
from accounts.services import domain_check


class Command(BaseCommand):
    help = (
        "Look up an organization's domain's DNS TXT record now and verify the domain when "
        "the record is there; prints the record to publish and the result."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", help="The organization's slug.")
        parser.add_argument("domain", help="One of its domains (see `domains`).")

    def handle(self, *args, organization, domain, **options):
        org = Organization.objects.filter(slug=organization).first()
        if org is None:
            raise CommandError(f"No organization with slug {organization!r}.")
        found = domain_by_name(org, domain)
        if found is None:
            raise CommandError(f"{domain!r} is not one of {org.slug}'s domains; add it first.")
        try:
            checked = domain_check(
                domain=found, actor=Actor.system("manage.py verify_domain"), acting_user=None
            )
        except AccountsError as error:
            raise CommandError(str(error)) from None
        self.stdout.write("\n".join(describe(checked)))
        if not checked.is_verified:
            raise CommandError(f"{checked.domain} is not verified.")
