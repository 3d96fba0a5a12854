"""create_api_key: the secret alone on the last line, the key findable by it."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.events.selectors import api_key_for_secret

pytestmark = pytest.mark.django_db


def test_create_api_key_prints_the_secret_alone_on_the_last_line(organization):
    out = io.StringIO()
    call_command("create_api_key", organization.slug, "--label", "File service", stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]
    key = api_key_for_secret(secret)
    assert (key.organization, key.label) == (organization, "File service")


def test_create_api_key_for_an_unknown_organization_is_a_clear_error():
    with pytest.raises(CommandError, match="No organization with slug 'nowhere'"):
        call_command("create_api_key", "nowhere", "--label", "x", stdout=io.StringIO())


def test_create_webhook_endpoint_prints_the_signing_secret_last(organization, settings):
    from accounts.events.models import WebhookEndpoint
    from accounts.services.webhook_delivery import live_secrets

    settings.WEBHOOK_ALLOW_LOOPBACK = True
    out = io.StringIO()
    call_command(
        "create_webhook_endpoint",
        organization.slug,
        "http://127.0.0.1:9/hooks",
        "--events",
        "user.deactivated,group.member_added",
        stdout=out,
    )
    secret = out.getvalue().strip().splitlines()[-1]
    endpoint = WebhookEndpoint.objects.get(organization=organization)
    assert endpoint.event_types == ["group.member_added", "user.deactivated"]
    assert live_secrets(endpoint, endpoint.created_at) == [secret]


def test_create_webhook_endpoint_refuses_a_private_url(organization):
    with pytest.raises(CommandError, match="a private address"):
        call_command(
            "create_webhook_endpoint", organization.slug, "https://10.0.0.1/", stdout=io.StringIO()
        )


def test_run_worker_on_sqlite_says_it_needs_postgresql(monkeypatch):
    from accounts.management.commands import run_worker

    monkeypatch.setattr(run_worker, "queue_available", lambda: False)
    with pytest.raises(CommandError, match="runs on PostgreSQL"):
        call_command("run_worker", stdout=io.StringIO())
