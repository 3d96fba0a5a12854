from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.actors import Actor
from accounts.errors import AccountsError
from sso.selectors import organization_by_slug
from sso.services import idp_configure, idp_configure_from_metadata, idp_configure_from_url
from sso.sp import sp_urls


class Command(BaseCommand):
    help = (
        "Configure an organization's SAML identity provider from its metadata "
        "(file or https URL) or field by field, and print the URLs to give the IdP."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", help="Organization slug.")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--metadata-file", help="IdP metadata XML file.")
        source.add_argument("--metadata-url", help="IdP metadata https URL.")
        source.add_argument("--entity-id", help="IdP entity ID (Okta: Identity Provider Issuer).")
        parser.add_argument("--sso-url", help="IdP SSO URL (HTTP-Redirect binding).")
        parser.add_argument("--slo-url", help="IdP SLO URL (HTTP-Redirect binding).")
        parser.add_argument(
            "--cert-file", action="append", default=[], help="IdP signing certificate (PEM)."
        )
        parser.add_argument(
            "--email-attribute", help="Attribute carrying the user's email (default: NameID)."
        )
        parser.add_argument("--given-name-attribute")
        parser.add_argument("--family-name-attribute")
        parser.add_argument(
            "--no-idp-initiated", action="store_true", help="Refuse unsolicited responses."
        )
        parser.add_argument("--jit", action="store_true", help="Create unknown users at sign-in.")
        parser.add_argument("--disable", action="store_true", help="Keep it configured but off.")

    def _options(self, options) -> dict:
        fields = {
            "allow_idp_initiated": not options["no_idp_initiated"],
            "jit_provisioning": options["jit"],
            "enabled": not options["disable"],
        }
        for name in ("email_attribute", "given_name_attribute", "family_name_attribute"):
            if options[name] is not None:
                fields[name] = options[name]
        return fields

    def _read(self, path: str) -> str:
        try:
            return Path(path).read_text()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None

    def handle(self, *args, **options):
        organization = organization_by_slug(options["organization"])
        if organization is None:
            raise CommandError(f"No organization with slug {options['organization']!r}.")
        actor = Actor.system("configure_saml command")
        fields = self._options(options)
        try:
            if options["metadata_file"]:
                idp = idp_configure_from_metadata(
                    organization=organization,
                    actor=actor,
                    metadata_xml=self._read(options["metadata_file"]),
                    **fields,
                )
            elif options["metadata_url"]:
                idp = idp_configure_from_url(
                    organization=organization, actor=actor, url=options["metadata_url"], **fields
                )
            else:
                if not options["sso_url"] or not options["cert_file"]:
                    raise CommandError("--entity-id needs --sso-url and at least one --cert-file.")
                idp = idp_configure(
                    organization=organization,
                    actor=actor,
                    entity_id=options["entity_id"],
                    sso_url=options["sso_url"],
                    slo_url=options["slo_url"] or "",
                    certificates=[self._read(path) for path in options["cert_file"]],
                    **fields,
                )
        except AccountsError as exc:
            raise CommandError(str(exc)) from None
        urls = sp_urls(organization)
        self.stdout.write(self.style.SUCCESS(f"Configured IdP {idp.entity_id}."))
        self.stdout.write(f"Single sign on URL (ACS): {urls['acs_url']}")
        self.stdout.write(f"Audience URI (SP Entity ID): {urls['entity_id']}")
        self.stdout.write(f"SP metadata: {urls['metadata_url']}")
        self.stdout.write(f"Single logout URL: {urls['slo_url']}")
