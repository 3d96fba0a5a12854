"""One regression test per red-team finding (docs/security.md, "Findings"), each named
after it; every one of them failed on the code the finding was made against."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditAction, AuditEvent, Role, Source, User
from sso.selectors import idp_of
from tests.conftest import ScimClient
from tests.sso.conftest import post_acs, signed_in_user_id


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="accounts.backends.ConsoleEmailBackend")
    return client


# -- 1. Admin -> owner through the IdP --------------------------------------------------


def test_finding_1_an_admin_cannot_swap_the_identity_provider_for_their_own(
    organization, org_owner, org_admin, saml_idp, rogue_idp
):
    response = _signed_in(org_admin).post(
        reverse("console:sso_metadata"), {"metadata_xml": rogue_idp.metadata()}
    )

    assert response.status_code == 403
    assert "Only owners can change single sign-on settings." in response.content.decode()
    assert idp_of(organization).certificates == saml_idp.certificates
    assert not AuditEvent.objects.filter(
        action=AuditAction.SSO_CONFIGURED, actor_id=str(org_admin.pk)
    ).exists()


def test_finding_1_an_assertion_naming_a_password_only_owner_signs_nobody_in(
    client, organization, org_owner, saml_idp, idp, assertion_for
):
    response = post_acs(client, organization, idp.response(assertion_for(name_id=org_owner.email)))

    assert response.status_code == 403
    assert signed_in_user_id(client) is None
    failure = AuditEvent.objects.get(action=AuditAction.SSO_LOGIN_FAILED)
    assert failure.changes["reason"] == "console_only_user"


# -- 2. A provisioning token overrides every owner rule ---------------------------------


@pytest.fixture
def token_scim(organization, make_scim_token):
    return ScimClient(Client(), make_scim_token(organization)[1])


def test_finding_2_a_token_cannot_deactivate_the_only_owner(token_scim, org_owner):
    response = token_scim.patch(
        f"/Users/{org_owner.pk}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": False}}],
        },
    )

    assert response.status_code == 403
    assert response.json()["detail"] == (
        "owner@acme.example is managed in the console, not by the identity provider; "
        "an owner must link the user to the identity provider first."
    )
    org_owner.refresh_from_db()
    assert org_owner.is_active


def test_finding_2_a_token_cannot_delete_the_only_owner(token_scim, org_owner):
    response = token_scim.delete(f"/Users/{org_owner.pk}")

    assert response.status_code == 403
    assert User.objects.filter(pk=org_owner.pk, role=Role.OWNER, is_active=True).exists()


def test_finding_2_a_token_cannot_rename_a_linked_owner_onto_an_employees_sign_in(
    token_scim, organization, org_owner, make_user, system_actor
):
    from accounts.services import user_link_to_idp

    user_link_to_idp(user=org_owner, linked=True, actor=system_actor, acting_user=None)
    make_user(organization, "employee@acme.example")

    response = token_scim.patch(
        f"/Users/{org_owner.pk}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "userName", "value": "mallory@acme.example"}],
        },
    )

    assert response.status_code == 403
    assert "may not change username of a console owner" in response.json()["detail"]
    org_owner.refresh_from_db()
    assert org_owner.username == "owner@acme.example"


# -- 8. An admin reactivates an owner whom an owner deactivated --------------------------


def test_finding_8_an_admin_cannot_reactivate_an_owner_an_owner_deactivated(
    organization, org_owner, org_admin, make_user
):
    from accounts.actors import Actor
    from accounts.services import user_deactivate

    second = make_user(organization, "second@acme.example", role=Role.OWNER, source=Source.MANUAL)
    user_deactivate(user=second, actor=Actor.for_user(org_owner), acting_user=org_owner)

    response = _signed_in(org_admin).post(reverse("console:user_reactivate", args=[second.pk]))

    assert response.status_code == 302
    second.refresh_from_db()
    assert not second.is_active
    assert not AuditEvent.objects.filter(
        action=AuditAction.USER_REACTIVATED, target_id=str(second.pk)
    ).exists()
