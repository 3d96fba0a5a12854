import time

import pytest
from django.test import Client

from accounts.services.integrations import api_key_create


@pytest.fixture
def make_api_key(db, system_actor):
    """Returns (key, secret) made through the service."""

    def make(organization, label="File service"):
        return api_key_create(organization=organization, label=label, actor=system_actor)

    return make


class ApiClient:
    def __init__(self, secret):
        self.client = Client()
        self.secret = secret

    def get(self, path, **params):
        return self.client.get(
            "/api/v1" + path, params, headers={"Authorization": f"Bearer {self.secret}"}
        )

    def follow_events(self, expected, *, after=None, timeout=20, **params):
        """Polls the stream until `expected` events arrived, as a consumer does.

        On PostgreSQL the stream serves an event once every transaction older than its
        own has ended, on this database cluster as a whole; a transaction of another
        process can hold it back for a moment.
        """
        events, deadline = [], time.monotonic() + timeout
        while True:
            query = dict(params, **({"after": after} if after else {}))
            body = self.get("/events", **query).json()
            events += body["data"]
            after = body["next_cursor"]
            if len(events) >= expected or time.monotonic() > deadline:
                return events, after
            if not body["has_more"]:
                time.sleep(0.05)


@pytest.fixture
def api(organization, make_api_key):
    return ApiClient(make_api_key(organization)[1])


@pytest.fixture
def other_api(other_organization, make_api_key):
    return ApiClient(make_api_key(other_organization)[1])


@pytest.fixture
def loopback_webhooks(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 2


@pytest.fixture
def make_endpoint(db, system_actor, loopback_webhooks):
    """Returns (endpoint, secret) made through the service."""
    from accounts.services.integrations import webhook_endpoint_create

    def make(organization, url, **fields):
        return webhook_endpoint_create(
            organization=organization, url=url, actor=system_actor, **fields
        )

    return make
