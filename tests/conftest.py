"""Fixtures shared by the whole suite: organizations, users and groups made through the services."""

import itertools

import pytest

from accounts.actors import Actor
from accounts.models import Role, Source
from accounts.services import group_create, organization_create, user_create

_sequence = itertools.count(1)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def system_actor():
    return Actor.system("tests")


@pytest.fixture
def make_organization(db, system_actor):
    def make(slug=None, name=None):
        slug = slug or f"org-{next(_sequence)}"
        return organization_create(slug=slug, name=name or slug.title(), actor=system_actor)

    return make


@pytest.fixture
def organization(make_organization):
    return make_organization("acme", "Acme Inc.")


@pytest.fixture
def other_organization(make_organization):
    return make_organization("globex", "Globex Corp.")


@pytest.fixture
def make_user(db, system_actor):
    def make(organization, username=None, **fields):
        username = username or f"user{next(_sequence)}@example.com"
        fields.setdefault("email", username if "@" in username else "")
        fields.setdefault("source", Source.SCIM)
        return user_create(
            organization=organization, username=username, actor=system_actor, **fields
        )

    return make


@pytest.fixture
def make_group(db, system_actor):
    def make(organization, display_name=None, members=(), **fields):
        display_name = display_name or f"Group {next(_sequence)}"
        return group_create(
            organization=organization,
            display_name=display_name,
            members=members,
            actor=system_actor,
            **fields,
        )

    return make


ADMIN_PASSWORD = "a-long-admin-password-42"


@pytest.fixture
def org_owner(organization, make_user):
    return make_user(
        organization,
        "owner@acme.example",
        role=Role.OWNER,
        source=Source.MANUAL,
        password=ADMIN_PASSWORD,
    )


@pytest.fixture
def org_admin(organization, make_user):
    return make_user(
        organization,
        "admin@acme.example",
        role=Role.ADMIN,
        source=Source.MANUAL,
        password=ADMIN_PASSWORD,
    )


@pytest.fixture
def owner_client(client, org_owner):
    client.force_login(org_owner, backend="accounts.backends.ConsoleEmailBackend")
    return client
