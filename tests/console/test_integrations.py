"""Integrations: API keys and webhook endpoints, managed by org owners and admins."""

import re

import pytest
from django.urls import reverse

from accounts.events.models import ApiKey, WebhookDelivery, WebhookEndpoint
from accounts.events.selectors import api_key_for_secret
from accounts.models import AuditAction, AuditEvent
from accounts.services.integrations import webhook_endpoint_create

pytestmark = pytest.mark.django_db


def shown_secret(response) -> str:
    return re.search(rb'id="secret" value="([^"]+)"', response.content).group(1).decode()


@pytest.fixture
def endpoint(organization, settings, system_actor):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    return webhook_endpoint_create(
        organization=organization, url="http://127.0.0.1:9/hooks", actor=system_actor
    )[0]


def test_members_cannot_open_integrations(client, organization, make_user):
    member = make_user(organization, "m@acme.example", password="a-long-member-pass-1")
    client.force_login(member, backend="accounts.backends.ConsoleEmailBackend")
    assert client.get(reverse("console:integrations")).status_code == 403


def test_creating_an_api_key_shows_its_secret_once(owner_client, org_owner, organization):
    response = owner_client.post(reverse("console:api_key_create"), {"label": "File service"})
    assert response.status_code == 302
    page = owner_client.get(response["Location"])
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    secret = shown_secret(page)
    key = api_key_for_secret(secret)
    assert (key.organization, key.label, key.created_by) == (
        organization,
        "File service",
        org_owner,
    )
    again = owner_client.get(response["Location"])
    assert again.status_code == 302
    assert secret.encode() not in owner_client.get(reverse("console:integrations")).content
    audit = AuditEvent.objects.get(action=AuditAction.API_KEY_CREATED)
    assert audit.actor_id == str(org_owner.pk)


def test_an_api_key_without_a_label_is_a_form_error(owner_client):
    response = owner_client.post(reverse("console:api_key_create"), {"label": ""})
    assert response.status_code == 400
    assert not ApiKey.objects.exists()


def test_revoking_an_api_key_is_audited(owner_client, org_owner, organization, system_actor):
    from accounts.services.integrations import api_key_create

    key, _ = api_key_create(organization=organization, label="Old", actor=system_actor)
    url = reverse("console:api_key_revoke", args=[key.pk])
    confirm = owner_client.get(url).content.decode()
    assert "Revoke API key “Old”?" in confirm
    key.refresh_from_db()
    assert key.revoked_at is None  # asking is not revoking

    response = owner_client.post(url)
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.get(action=AuditAction.API_KEY_REVOKED).actor_id == str(org_owner.pk)
    assert "is already revoked" in owner_client.get(url).content.decode()


def test_adding_an_endpoint_shows_its_signing_secret_once(owner_client, settings, org_owner):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    response = owner_client.post(
        reverse("console:endpoint_create"),
        {"url": "http://127.0.0.1:9/hooks", "event_types": ["user.deactivated"]},
    )
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["user.deactivated"]
    page = owner_client.get(response["Location"])
    assert shown_secret(page).startswith("whsec_")
    assert owner_client.get(response["Location"]).status_code == 302
    assert AuditEvent.objects.get(action=AuditAction.WEBHOOK_CREATED).actor_id == str(org_owner.pk)


def test_a_private_endpoint_url_is_refused_on_the_form(owner_client):
    response = owner_client.post(reverse("console:endpoint_create"), {"url": "https://10.0.0.8/x"})
    assert response.status_code == 400
    assert b"resolves to a private address" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_disable_enable_rotate_and_filter_are_audited(owner_client, endpoint):
    owner_client.post(reverse("console:endpoint_disable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    owner_client.post(reverse("console:endpoint_enable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.enabled
    rotated = owner_client.post(reverse("console:endpoint_rotate", args=[endpoint.pk]))
    assert shown_secret(owner_client.get(rotated["Location"])).startswith("whsec_")
    assert endpoint.secrets.count() == 2
    owner_client.post(
        reverse("console:endpoint_events", args=[endpoint.pk]),
        {"event_types": ["group.member_added", "user.deactivated"]},
    )
    endpoint.refresh_from_db()
    assert endpoint.event_types == ["group.member_added", "user.deactivated"]
    actions = AuditEvent.objects.filter(
        target_type="webhook", target_id=str(endpoint.pk)
    ).values_list("action", flat=True)
    assert sorted(actions) == sorted(
        [
            AuditAction.WEBHOOK_CREATED,
            AuditAction.WEBHOOK_UPDATED,
            AuditAction.WEBHOOK_UPDATED,
            AuditAction.WEBHOOK_SECRET_ROTATED,
            AuditAction.WEBHOOK_UPDATED,
        ]
    )


def test_send_test_event_and_resend_queue_deliveries(
    owner_client, endpoint, organization, make_user
):
    owner_client.post(reverse("console:endpoint_test", args=[endpoint.pk]))
    test = WebhookDelivery.objects.get(endpoint=endpoint, event__isnull=True)
    make_user(organization)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event__isnull=False)
    owner_client.post(reverse("console:delivery_resend", args=[endpoint.pk, delivery.pk]))
    assert WebhookDelivery.objects.filter(endpoint=endpoint, event=delivery.event).count() == 2

    page = owner_client.get(reverse("console:endpoint", args=[endpoint.pk]))
    assert page.status_code == 200
    assert b"webhook.test" in page.content and b"user.created" in page.content
    assert test.pk in [d.pk for d in page.context["deliveries"]]


def test_another_organizations_endpoint_is_not_found(
    owner_client, other_organization, settings, system_actor
):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    theirs, _ = webhook_endpoint_create(
        organization=other_organization, url="http://127.0.0.1:9/x", actor=system_actor
    )
    assert owner_client.get(reverse("console:endpoint", args=[theirs.pk])).status_code == 404
    response = owner_client.post(reverse("console:endpoint_disable", args=[theirs.pk]))
    assert response.status_code == 404


def test_without_the_queue_the_page_says_webhooks_need_postgresql(
    owner_client, endpoint, monkeypatch
):
    from console.views import integrations

    monkeypatch.setattr(integrations, "queue_available", lambda: False)
    page = owner_client.get(reverse("console:integrations"))
    assert b"runs on PostgreSQL only" in page.content
