from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.actors import Actor
from accounts.errors import AccountsError
from sso.errors import ProviderUnavailable
from sso.models import ClientAuthMethod
from sso.oidc.connection import oidc_urls
from sso.selectors import organization_by_slug
from sso.services import oidc_configure, sign_in_connection_switch
from sso.services.oidc import OIDC, SECRET_METHODS, provider_metadata

# What is printed, in this order: the values to register at the provider.
PRINTED_URLS = (
    ("Redirect URI", "redirect_uri"),
    ("Initiate login URI", "initiate_login_uri"),
    ("Back-channel logout URI", "backchannel_logout_uri"),
    ("Front-channel logout URI", "frontchannel_logout_uri"),
    ("JWKS URL", "jwks_url"),
)


class Command(BaseCommand):
    help = (
        "Configure an organization's OpenID Connect connection from its issuer's discovery "
        "document, and print the URLs to register at the provider. With no connection in "
        "use it is active at once; beside an active SAML IdP it waits, and --activate "
        "switches to it."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", help="Organization slug.")
        parser.add_argument("--issuer", required=True, help="The provider's issuer (https URL).")
        parser.add_argument("--client-id", required=True, help="Roster's client ID there.")
        parser.add_argument(
            "--client-secret-file",
            help="A file holding the client secret (one trailing newline is ignored).",
        )
        parser.add_argument(
            "--auth-method",
            choices=ClientAuthMethod.values,
            default=ClientAuthMethod.CLIENT_SECRET_BASIC,
            help="How Roster authenticates at the token endpoint (default client_secret_basic; "
            "private_key_jwt needs no secret: the provider reads Roster's JWKS URL).",
        )
        parser.add_argument(
            "--email-claim",
            choices=["email"],
            default="",
            help="Match people by a verified email at a verified domain "
            "(default: preferred_username).",
        )
        parser.add_argument("--jit", action="store_true", help="Create unknown users at sign-in.")
        parser.add_argument(
            "--no-idp-initiated", action="store_true", help="Refuse sign-ins begun at the provider."
        )
        parser.add_argument(
            "--activate",
            action="store_true",
            help="Make OpenID Connect the connection in use, replacing an active SAML IdP.",
        )

    def _secret(self, options) -> str:
        path, method = options["client_secret_file"], options["auth_method"]
        if method not in SECRET_METHODS:
            if path:
                raise CommandError(f"--client-secret-file is not used with {method}.")
            return ""
        if not path:
            raise CommandError(f"{method} needs --client-secret-file.")
        try:
            secret = Path(path).read_text()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        except UnicodeDecodeError:
            raise CommandError(f"Cannot read {path}: it is not UTF-8 text.") from None
        # `echo secret > file` adds a newline that is not part of the secret.
        secret = secret.removesuffix("\n").removesuffix("\r")
        if not secret.strip():
            raise CommandError(f"{path} is empty.")
        return secret

    def handle(self, *args, **options):
        organization = organization_by_slug(options["organization"])
        if organization is None:
            raise CommandError(f"No organization with slug {options['organization']!r}.")
        secret = self._secret(options)
        actor = Actor.system("configure_oidc command")
        try:
            # Discovery fetches: before the transaction, as oidc_configure asks.
            metadata = provider_metadata(issuer=options["issuer"])
            with transaction.atomic():
                connection = oidc_configure(
                    organization=organization,
                    metadata=metadata,
                    client_id=options["client_id"],
                    actor=actor,
                    client_secret=secret,
                    client_auth_method=options["auth_method"],
                    email_claim=options["email_claim"],
                    jit_provisioning=options["jit"],
                    allow_idp_initiated=not options["no_idp_initiated"],
                )
                if options["activate"] and not connection.enabled:
                    # The platform's act (acting_user None): no owner's test sign-in needed.
                    sign_in_connection_switch(
                        organization=organization, to=OIDC, actor=actor, acting_user=None
                    )
                    connection.refresh_from_db(fields=["enabled"])
        except ProviderUnavailable as exc:
            raise CommandError(f"The provider did not answer: {exc.detail}") from None
        except AccountsError as exc:
            raise CommandError(str(exc)) from None
        # stdout carries the URLs only, for scripts; the state goes to stderr.
        urls = oidc_urls(organization)
        for label, name in PRINTED_URLS:
            self.stdout.write(f"{label}: {urls[name]}")
        if connection.enabled:
            self.stderr.write(f"OpenID Connect is {organization.slug}'s sign-in connection.")
        else:
            self.stderr.write("Saved, not in use: --activate makes it the sign-in connection.")
