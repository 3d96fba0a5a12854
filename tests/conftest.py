"""Fixtures shared by the whole suite: organizations, users and groups made through the services."""

import itertools
import json
import os
import uuid

import pytest

from accounts.actors import Actor
from accounts.models import Role, Source
from accounts.services import group_create, organization_create, user_create

_sequence = itertools.count(1)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (rate-limit counters are rows, rolled back)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _one_rate_window(monkeypatch):
    """Rate-limit counters stay in the window they started in, however long the test
    runs: a test that crossed a minute's edge would otherwise see its count start over.
    A test that means to move to the next window sets `config.ratelimit.clock` itself."""
    from config import ratelimit

    started = ratelimit.clock()
    monkeypatch.setattr(ratelimit, "clock", lambda: started)


DATABASE_CACHE_TABLE = "roster_cache"


def use_redis_cache(settings) -> None:
    """Redis (REDIS_TEST_URL) as the shared cache, under a prefix of this test's own:
    nothing to clear, nothing shared with a parallel test. Skips without REDIS_TEST_URL."""
    url = os.environ.get("REDIS_TEST_URL")
    if not url:
        pytest.skip("set REDIS_TEST_URL to test with Redis")
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"roster-test-{uuid.uuid4().hex}",
        }
    }


def record_redis_commands(monkeypatch) -> list[str]:
    """The name of every Redis command sent from here on (EVALSHA, SCRIPT LOAD, ...), in
    order: for tests that count a request's round trips to Redis."""
    from redis.client import Redis

    sent = []
    command = Redis.execute_command

    def recording(self, *args, **kwargs):
        sent.append(args[0])
        return command(self, *args, **kwargs)

    monkeypatch.setattr(Redis, "execute_command", recording)
    return sent


@pytest.fixture(params=["database", "redis"])
def shared_cache(request, db, settings):
    """The production cache, either kind: the database cache, or Redis (REDIS_TEST_URL).

    The suite's own settings use an in-process cache; tests that count what a request
    costs in production take this instead. Redis is skipped when REDIS_TEST_URL is unset.
    """
    if request.param == "redis":
        use_redis_cache(settings)
    else:
        from django.core.management.commands.createcachetable import Command

        # Created inside the test's transaction, so it goes with the rollback.
        command = Command()
        command.verbosity = 0
        command.create_table("default", DATABASE_CACHE_TABLE, dry_run=False)
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.db.DatabaseCache",
                "LOCATION": DATABASE_CACHE_TABLE,
            }
        }
    return request.param


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


SCIM_CONTENT_TYPE = "application/scim+json"


class ScimClient:
    """Django's test client speaking SCIM with a provisioning token, as an IdP would."""

    def __init__(self, client, secret, base="/scim/v2"):
        self.client = client
        self.secret = secret
        self.base = base

    def _headers(self, headers):
        merged = {"Authorization": f"Bearer {self.secret}", "Accept": SCIM_CONTENT_TYPE}
        merged.update(headers or {})
        return merged

    def _url(self, path):
        return path if path.startswith("/") and path.startswith(self.base) else self.base + path

    def get(self, path, headers=None, **params):
        return self.client.get(self._url(path), params or None, headers=self._headers(headers))

    def _send(self, method, path, body, headers, content_type):
        data = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
        return getattr(self.client, method)(
            self._url(path),
            data=data if data is not None else "",
            content_type=content_type,
            headers=self._headers(headers),
        )

    def post(self, path, body=None, headers=None, content_type=SCIM_CONTENT_TYPE):
        return self._send("post", path, body, headers, content_type)

    def put(self, path, body=None, headers=None, content_type=SCIM_CONTENT_TYPE):
        return self._send("put", path, body, headers, content_type)

    def patch(self, path, body=None, headers=None, content_type=SCIM_CONTENT_TYPE):
        return self._send("patch", path, body, headers, content_type)

    def delete(self, path, headers=None, content_type=SCIM_CONTENT_TYPE):
        return self._send("delete", path, None, headers, content_type)


@pytest.fixture
def make_scim_token(db, system_actor):
    """Returns (token, secret) made through the provisioning services."""

    def make(organization, label="Okta", **fields):
        from provisioning.services import token_create

        return token_create(organization=organization, label=label, actor=system_actor, **fields)

    return make


@pytest.fixture
def scim_secret(organization, make_scim_token):
    return make_scim_token(organization)[1]


@pytest.fixture
def scim(client, scim_secret):
    """A SCIM client for `organization`."""
    return ScimClient(client, scim_secret)


@pytest.fixture
def other_scim(other_organization, make_scim_token):
    """A SCIM client for `other_organization` (its own Django test client)."""
    from django.test import Client

    return ScimClient(Client(), make_scim_token(other_organization)[1])


class FakeTxt:
    """A TXT rdata as dnspython gives it: one or more character-strings."""

    def __init__(self, *strings: str):
        self.strings = tuple(part.encode() for part in strings)


class FakeDns:
    """Stands in for dns.resolver.Resolver: the tests never send a DNS query."""

    def __init__(self):
        self.records: dict[str, list[FakeTxt]] = {}
        self.errors: dict[str, Exception] = {}
        self.queries: list[tuple[str, str]] = []

    def publish(self, name: str, *records):
        """Each record a string, or a tuple of the strings one record is split into."""
        self.records[name] = [FakeTxt(*(r if isinstance(r, tuple) else (r,))) for r in records]

    def fail(self, name: str, error: Exception):
        self.errors[name] = error

    def resolve(self, name, rdtype, search=False):
        import dns.resolver

        self.queries.append((name, rdtype))
        if name in self.errors:
            raise self.errors[name]
        if name not in self.records:
            raise dns.resolver.NXDOMAIN()
        if not self.records[name]:
            raise dns.resolver.NoAnswer()
        return self.records[name]


@pytest.fixture
def fake_dns(monkeypatch):
    """DNS answers for domain verification, set by the test (no real traffic)."""
    fake = FakeDns()
    monkeypatch.setattr("accounts.domain_verification.make_resolver", lambda: fake)
    return fake


@pytest.fixture
def make_verified_domain(db, system_actor):
    """A domain verified for an organization as a check that found its record leaves it.

    Made through the services, with the lookup's answer given: no DNS traffic.
    """
    from accounts.domain_verification import Lookup
    from accounts.models import DomainCheckResult
    from accounts.services import domain_add, domain_check_record

    def make(organization, domain):
        added = domain_add(
            organization=organization, domain=domain, actor=system_actor, acting_user=None
        )
        found = Lookup(DomainCheckResult.FOUND, "the verification record (test)")
        return domain_check_record(domain_id=added.pk, lookup=found, actor=system_actor)

    return make


@pytest.fixture
def acme_domain(organization, make_verified_domain):
    """acme.example, verified by `organization`."""
    return make_verified_domain(organization, "acme.example")


@pytest.fixture
def receiver():
    """A webhook receiver on 127.0.0.1 (tests.events.receiver)."""
    from tests.events.receiver import Receiver

    receiver = Receiver()
    yield receiver
    receiver.close()
