from django.core.management.base import BaseCommand, CommandError

from transfer.management.lookups import command_actor, organization_named, user_named
from transfer.models import APP_PASSWORD, AppPassword, SshKey
from transfer.services import app_password_revoke, ssh_key_revoke


class Command(BaseCommand):
    help = "Revoke a person's app password (by its prefix) or SSH key (by its fingerprint)."

    def add_arguments(self, parser):
        parser.add_argument("organization", help="The organization's slug.")
        parser.add_argument("username", help="The person's userName.")
        parser.add_argument("credential", help="An app password's prefix, or SHA256:<key hash>.")

    def handle(self, *args, organization, username, credential, **options):
        user = user_named(organization_named(organization), username)
        actor = command_actor("revoke_credential")
        if credential.startswith("SHA256:"):
            key = SshKey.objects.filter(user=user, fingerprint=credential, revoked_at=None).first()
            if key is None:
                raise CommandError(f"{user.username} has no key {credential}.")
            ssh_key_revoke(key=key, actor=actor)
            self.stdout.write(f"Revoked key {key.fingerprint} of {user.username}.")
            return
        prefix = credential.removeprefix(APP_PASSWORD.head).split(".")[0]
        password = AppPassword.objects.filter(user=user, prefix=prefix, revoked_at=None).first()
        if password is None:
            raise CommandError(f"{user.username} has no app password {prefix!r}.")
        app_password_revoke(password=password, actor=actor)
        self.stdout.write(f"Revoked app password {password.prefix} of {user.username}.")
