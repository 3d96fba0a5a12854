"""SCIM, the console and the operations admin all reach the outbox through the services."""

import pytest
from django.urls import reverse

from accounts.events.models import DirectoryEvent, EventType
from accounts.services import operator_create

pytestmark = pytest.mark.django_db


def test_scim_create_and_deactivate_write_events_with_the_token_as_actor(scim, organization):
    created = scim.post(
        "/Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ann@acme.example",
            "externalId": "00u1",
            "active": True,
        },
    )
    assert created.status_code == 201
    user_id = created.json()["id"]
    patched = scim.patch(
        f"/Users/{user_id}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": False}}],
        },
    )
    assert patched.status_code == 200
    events = list(DirectoryEvent.objects.filter(resource_id=user_id).order_by("id"))
    assert [(event.type, event.resource_version) for event in events] == [
        (EventType.USER_CREATED, 1),
        (EventType.USER_DEACTIVATED, 2),
    ]
    assert {event.actor_type for event in events} == {"token"}
    assert events[0].data["user"]["external_id"] == "00u1"


def test_scim_group_with_members_writes_member_added(scim, organization, make_user):
    ann = make_user(organization)
    created = scim.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Finance",
            "members": [{"value": str(ann.pk)}],
        },
    )
    assert created.status_code == 201
    group_id = created.json()["id"]
    types = list(
        DirectoryEvent.objects.filter(group_id=group_id)
        .order_by("id")
        .values_list("type", "user_id")
    )
    assert (EventType.GROUP_CREATED, None) in types
    assert (EventType.GROUP_MEMBER_ADDED, ann.pk) in types


def test_console_deactivation_writes_user_deactivated_with_the_admin_as_actor(
    owner_client, org_owner, organization, make_user
):
    person = make_user(organization)
    response = owner_client.post(reverse("console:user_deactivate", args=[person.pk]))
    assert response.status_code == 302
    event = DirectoryEvent.objects.get(resource_id=person.pk, type=EventType.USER_DEACTIVATED)
    assert (event.actor_type, event.actor_id) == ("user", str(org_owner.pk))


def test_admin_deactivation_writes_user_deactivated(client, organization, make_user):
    operator = operator_create(
        username="ops", email="ops@roster.example", password="ops-pass-12345"
    )
    client.force_login(operator, backend="accounts.backends.OperatorBackend")
    person = make_user(organization, "ada@example.com")
    form = {
        "organization": organization.pk,
        "username": person.username,
        "email": person.email,
        "email_type": person.email_type,
        "email_primary": "on",
        "enterprise": "{}",
        "role": person.role,
    }
    response = client.post(f"/admin/accounts/user/{person.pk}/change/", form)
    assert response.status_code == 302
    event = DirectoryEvent.objects.get(resource_id=person.pk, type=EventType.USER_DEACTIVATED)
    assert event.actor_id == str(operator.pk)


def test_scim_writes_queue_deliveries_for_the_organizations_enabled_endpoints(
    scim, organization, other_organization, make_endpoint, system_actor
):
    from accounts.events.models import WebhookDelivery
    from accounts.services.integrations import webhook_endpoint_disable

    # The token's lookup says whether the organization has enabled endpoints; a "no"
    # spares each write the endpoint lookup, a "yes" must still deliver.
    make_endpoint(other_organization, "http://127.0.0.1:9/elsewhere")
    off, _ = make_endpoint(organization, "http://127.0.0.1:9/off")
    webhook_endpoint_disable(endpoint=off, reason="test", actor=system_actor)
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@acme.example"}
    assert scim.post("/Users", body).status_code == 201
    assert not WebhookDelivery.objects.exists()
    on, _ = make_endpoint(organization, "http://127.0.0.1:9/on")
    assert scim.post("/Users", {**body, "userName": "b@acme.example"}).status_code == 201
    delivery = WebhookDelivery.objects.get()
    assert (delivery.endpoint, delivery.event.type) == (on, EventType.USER_CREATED)
