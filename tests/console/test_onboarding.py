"""The Overview's setup checklist: each step ticks itself from real data."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.actors import Actor
from accounts.models import AuditAction, User
from accounts.services import audit_record
from console.onboarding import onboarding_steps
from sso.services import idp_configure
from tests.conftest import ScimClient
from tests.console.conftest import make_certificate
from tests.transfer.conftest import DecisionClient, new_public_key
from transfer.models import CredentialSource, TransferMode
from transfer.services import ssh_key_add, transfer_key_create, transfer_policy_set

pytestmark = pytest.mark.django_db


def _done(organization) -> dict[str, bool]:
    return {step.key: step.done for step in onboarding_steps(organization)}


def test_a_new_organization_sees_every_step_to_do(owner_client, organization):
    body = owner_client.get(reverse("console:home")).content.decode()

    assert "Get started" in body
    assert "0 of 8 steps done" in body
    assert _done(organization) == dict.fromkeys(
        [
            "token",
            "scim_request",
            "scim_user",
            "sso",
            "sso_sign_in",
            "transfer_on",
            "transfer_key",
            "transfer_sign_in",
        ],
        False,
    )


def test_each_step_is_ticked_by_what_happened(
    client, owner_client, organization, org_owner, make_scim_token
):
    _, secret = make_scim_token(organization)
    assert _done(organization)["token"] and not _done(organization)["scim_request"]

    scim = ScimClient(client, secret)
    assert scim.get("/Users").status_code == 200
    assert _done(organization)["scim_request"] and not _done(organization)["scim_user"]

    created = scim.post(
        "/Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "hedy@acme.example",
            "active": True,
        },
    )
    assert created.status_code == 201
    assert _done(organization)["scim_user"]

    actor = Actor.for_user(org_owner)
    idp_configure(
        organization=organization,
        actor=actor,
        acting_user=org_owner,
        entity_id="http://www.okta.com/exk1",
        sso_url="https://acme.okta.com/sso",
        certificates=[make_certificate()],
    )
    assert not _done(organization)["sso"], "an IdP that is off is not set up"
    idp_configure(organization=organization, actor=actor, acting_user=org_owner, enabled=True)
    assert _done(organization)["sso"] and not _done(organization)["sso_sign_in"]
    assert "4 of 8 steps done" in owner_client.get(reverse("console:home")).content.decode()

    audit_record(
        organization=organization,
        actor=Actor.system("single sign-on"),
        action=AuditAction.SSO_LOGIN,
        target_type="user",
        target_id=org_owner.pk,
    )
    assert _done(organization)["sso_sign_in"]

    transfer_policy_set(organization=organization, mode=TransferMode.EVERYONE, actor=actor)
    assert _done(organization)["transfer_on"] and not _done(organization)["transfer_key"]
    _, key_secret = transfer_key_create(organization=organization, label="sftp-1", actor=actor)
    assert _done(organization)["transfer_key"] and not _done(organization)["transfer_sign_in"]

    hedy = User.objects.get(username="hedy@acme.example")
    text = new_public_key()
    ssh_key_add(user=hedy, public_key=text, source=CredentialSource.PERSONAL, actor=actor)
    server = DecisionClient(client, key_secret)
    login = f"{organization.slug}+hedy@acme.example"
    refused = server.authenticate(login, public_key=new_public_key())
    assert refused.json()["allowed"] is False
    assert not _done(organization)["transfer_sign_in"], "a refused login is not the first login"
    assert server.authenticate(login, public_key=text).json()["allowed"] is True
    assert all(_done(organization).values())
    assert "Get started" not in owner_client.get(reverse("console:home")).content.decode()


def test_a_user_made_by_hand_does_not_tick_provisioning(organization, make_user):
    from accounts.models import Source

    make_user(organization, source=Source.MANUAL)
    assert not _done(organization)["scim_user"]


def test_the_checklist_costs_one_query(organization):
    with CaptureQueriesContext(connection) as queries:
        onboarding_steps(organization)
    assert len(queries) == 1


def test_another_organizations_progress_does_not_tick_steps(
    organization, other_organization, make_scim_token, system_actor
):
    make_scim_token(other_organization)
    transfer_policy_set(
        organization=other_organization, mode=TransferMode.EVERYONE, actor=system_actor
    )
    transfer_key_create(organization=other_organization, label="globex", actor=system_actor)
    assert not any(_done(organization).values())


def test_turning_file_transfer_off_again_unticks_its_step(organization, system_actor):
    transfer_policy_set(organization=organization, mode=TransferMode.EVERYONE, actor=system_actor)
    transfer_policy_set(organization=organization, mode=TransferMode.OFF, actor=system_actor)
    assert not _done(organization)["transfer_on"]
