from django.core.management.base import BaseCommand, CommandError

from accounts.actors import Actor
from accounts.domain_verification import record_name, record_value
from accounts.errors import AccountsError
from accounts.models import Organization
from accounts.selectors import domain_by_name, domains_of
from accounts.services import domain_add, domain_remove

ACTOR = Actor.system("manage.py domains")


def describe(domain) -> list[str]:
    """The lines the domains and verify_domain commands print for one domain."""
    checked = (
        f"last checked {domain.last_checked_at:%Y-%m-%d %H:%M} UTC: "
        f"{domain.get_last_check_result_display()}. {domain.last_check_detail}"
        if domain.last_checked_at
        else "never checked"
    )
    return [
        f"{domain.domain}: {domain.get_state_display().lower()}, {checked.strip()}",
        f"  TXT record  {record_name(domain.domain)}",
        f"  value       {record_value(domain.verification_token)}",
    ]


class Command(BaseCommand):
    help = (
        "List an organization's email domains with the DNS TXT record that proves each, "
        "or add or remove one. `verify_domain` checks a domain's record."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", help="The organization's slug.")
        change = parser.add_mutually_exclusive_group()
        change.add_argument(
            "--add", metavar="DOMAIN", help="Add a domain (pending until verified)."
        )
        change.add_argument("--remove", metavar="DOMAIN", help="Remove a domain.")

    def handle(self, *args, organization, add=None, remove=None, **options):
        org = Organization.objects.filter(slug=organization).first()
        if org is None:
            raise CommandError(f"No organization with slug {organization!r}.")
        try:
            if add:
                domain = domain_add(organization=org, domain=add, actor=ACTOR, acting_user=None)
                self.stdout.write(
                    f"Added {domain.domain}. Publish this record, then run verify_domain:"
                )
            elif remove:
                domain = domain_by_name(org, remove)
                if domain is None:
                    raise CommandError(f"{remove!r} is not one of {org.slug}'s domains.")
                domain_remove(domain=domain, actor=ACTOR, acting_user=None)
                self.stdout.write(f"Removed {domain.domain}.")
                return
        except AccountsError as error:
            raise CommandError(str(error)) from None
        domains = list(domains_of(org))
        if not domains:
            self.stdout.write(f"{org.slug} has no domains. Add one with --add.")
        for domain in domains:
            self.stdout.write("\n".join(describe(domain)))
