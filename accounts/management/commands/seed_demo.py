import os
import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.actors import Actor
from accounts.models import Organization, Role, Source
from accounts.selectors import group_by_display_name, user_by_username
from accounts.services import (
    group_create,
    group_members_add,
    organization_create,
    user_create,
    user_set_password,
)

DEMO_SLUG = "demo"
OWNER_EMAIL = "owner@demo.example"
PEOPLE = [
    ("ada@demo.example", "Ada", "Lovelace", "Engineering"),
    ("grace@demo.example", "Grace", "Hopper", "Engineering"),
    ("alan@demo.example", "Alan", "Turing", "Research"),
    ("katherine@demo.example", "Katherine", "Johnson", "Research"),
    ("margaret@demo.example", "Margaret", "Hamilton", "Operations"),
]
GROUPS = {
    "Engineering": ["ada@demo.example", "grace@demo.example"],
    "Research": ["alan@demo.example", "katherine@demo.example"],
    "Everyone": [email for email, *_ in PEOPLE],
}


class Command(BaseCommand):
    help = (
        "Create the 'demo' organization with an owner, a few users and groups; safe to run "
        "again. The owner's password comes from DEMO_OWNER_PASSWORD, or is generated and "
        "printed once when the owner is first created."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        actor = Actor.system("seed_demo command")
        organization = Organization.objects.filter(slug=DEMO_SLUG).first()
        if organization is None:
            organization = organization_create(slug=DEMO_SLUG, name="Demo Company", actor=actor)

        owner = user_by_username(organization, OWNER_EMAIL)
        password = os.environ.get("DEMO_OWNER_PASSWORD", "")
        password_note = "unchanged (set DEMO_OWNER_PASSWORD to reset it)"
        if owner is None:
            password = password or secrets.token_urlsafe(12)
            owner = user_create(
                organization=organization,
                username=OWNER_EMAIL,
                email=OWNER_EMAIL,
                given_name="Demo",
                family_name="Owner",
                display_name="Demo Owner",
                role=Role.OWNER,
                source=Source.MANUAL,
                password=password,
                actor=actor,
            )
            password_note = password
        elif password and not owner.check_password(password):
            user_set_password(user=owner, password=password, actor=actor)
            password_note = password
        elif password:
            password_note = password

        people = {}
        for email, given, family, department in PEOPLE:
            person = user_by_username(organization, email)
            if person is None:
                person = user_create(
                    organization=organization,
                    username=email,
                    email=email,
                    given_name=given,
                    family_name=family,
                    display_name=f"{given} {family}",
                    enterprise={"department": department},
                    source=Source.MANUAL,
                    actor=actor,
                )
            people[email] = person

        for name, emails in GROUPS.items():
            group = group_by_display_name(organization, name)
            if group is None:
                group = group_create(organization=organization, display_name=name, actor=actor)
            group_members_add(group=group, users=[people[e] for e in emails], actor=actor)

        self.stdout.write(f"Demo organization '{DEMO_SLUG}' is ready.")
        self.stdout.write(f"  Console owner email: {OWNER_EMAIL}")
        self.stdout.write(f"  Console owner password: {password_note}")
