"""What the file-transfer commands look up by name, each refusal a one-line CommandError."""

from django.core.management.base import CommandError

from accounts.actors import Actor
from accounts.folding import casefold_key
from accounts.models import Group, Organization, User


def command_actor(command: str) -> Actor:
    return Actor.system(f"manage.py {command}")


def organization_named(slug: str) -> Organization:
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        raise CommandError(f"No organization with slug {slug!r}.")
    return organization


def user_named(organization: Organization, username: str) -> User:
    user = User.objects.filter(
        organization=organization, username_key=casefold_key(username)
    ).first()
    if user is None:
        raise CommandError(f"No user {username!r} in {organization.slug}.")
    return user


def group_named(organization: Organization, display_name: str) -> Group:
    group = Group.objects.filter(
        organization=organization, display_name__iexact=display_name.strip()
    ).first()
    if group is None:
        raise CommandError(f"No group {display_name!r} in {organization.slug}.")
    return group
