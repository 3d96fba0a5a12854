"""Requiring single sign-on, with the owners' break-glass password (docs/security.md).

While an organization requires SSO, members and admins cannot use a console password
(signing in, or a password session opened before); owners can, and every such sign-in
is a console.break_glass_login event. Only an owner who has signed in through the
identity provider since its settings last changed may turn the requirement on.
"""

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from accounts.actors import Actor
from accounts.models import AuditAction, AuditEvent, Organization, Role, Source
from accounts.services import organization_set_sso_required, user_link_to_idp
from sso.errors import SsoError
from sso.services import SsoNotProven, idp_configure, sso_requirement_set
from tests.conftest import ADMIN_PASSWORD
from tests.sso.conftest import post_acs

LOGIN = "/console/login/"
REQUIRE = reverse("console:sso_required")


def _required(organization) -> bool:
    return Organization.objects.get(pk=organization.pk).sso_required


@pytest.fixture
def required(organization, saml_idp, system_actor):
    """SSO on and required (set directly, as the platform may: no proof needed here)."""
    organization_set_sso_required(organization=organization, required=True, actor=system_actor)
    organization.refresh_from_db()
    return organization


@pytest.fixture
def member(organization, make_user):
    return make_user(organization, "member@acme.example", role=Role.MEMBER, password=ADMIN_PASSWORD)


def _password_sign_in(email, next_path=None) -> tuple[Client, object]:
    client = Client()
    data = {"email": email, "password": ADMIN_PASSWORD}
    if next_path:
        data["next"] = next_path
    return client, client.post(LOGIN, data)


def _sso_signed_in_owner(org_owner, organization, idp, assertion_for, system_actor) -> Client:
    """The owner, linked to the IdP, signs in through it (the console's Test sign-in)."""
    user_link_to_idp(user=org_owner, linked=True, actor=system_actor, acting_user=None)
    client = Client()
    response = post_acs(client, organization, idp.response(assertion_for(name_id=org_owner.email)))
    assert response.status_code == 302
    org_owner.refresh_from_db()
    return client


# -- Signing in while SSO is required ---------------------------------------------------


@pytest.mark.parametrize("who", ["member", "admin"])
def test_a_member_or_admin_password_is_refused_while_sso_is_required(
    required, member, org_admin, who
):
    user = {"member": member, "admin": org_admin}[who]

    client, response = _password_sign_in(user.email)

    assert response.status_code == 403
    page = response.content.decode()
    assert "Acme Inc. requires single sign-on" in page
    assert 'href="/sso/acme/login/?next=%2Fconsole%2F"' in page
    assert SESSION_KEY not in client.session
    event = AuditEvent.objects.get(action=AuditAction.CONSOLE_LOGIN_FAILED)
    assert (event.target_id, event.changes["reason"]) == (str(user.pk), "sso_required")
    assert not AuditEvent.objects.filter(action=AuditAction.CONSOLE_LOGIN).exists()


def test_a_wrong_password_says_nothing_about_sso(required, org_admin):
    response = Client().post(LOGIN, {"email": org_admin.email, "password": "wrong-password-1"})

    assert response.status_code == 400
    assert "requires single sign-on" not in response.content.decode()


def test_the_owners_password_is_the_audited_break_glass_path(required, org_owner):
    client, response = _password_sign_in(org_owner.email)

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(org_owner.pk)
    event = AuditEvent.objects.get(action=AuditAction.CONSOLE_BREAK_GLASS_LOGIN)
    assert (event.actor_id, event.target_id) == (str(org_owner.pk), str(org_owner.pk))
    assert "client_address" in event.changes
    assert not AuditEvent.objects.filter(action=AuditAction.CONSOLE_LOGIN).exists()
    page = client.get(response["Location"]).content.decode()
    assert "the break-glass path for owners" in page


def test_every_break_glass_sign_in_is_audited(required, org_owner):
    for _ in range(3):
        _password_sign_in(org_owner.email)

    assert AuditEvent.objects.filter(action=AuditAction.CONSOLE_BREAK_GLASS_LOGIN).count() == 3


def test_without_the_requirement_an_owner_sign_in_is_an_ordinary_one(organization, org_owner):
    _password_sign_in(org_owner.email)

    assert AuditEvent.objects.filter(action=AuditAction.CONSOLE_LOGIN).count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.CONSOLE_BREAK_GLASS_LOGIN).exists()


def test_an_admins_password_session_ends_once_sso_is_required(
    organization, saml_idp, org_admin, system_actor
):
    client, _ = _password_sign_in(org_admin.email)
    assert client.get("/console/").status_code == 200

    organization_set_sso_required(organization=organization, required=True, actor=system_actor)
    response = client.get("/console/users/")

    assert response.status_code == 302
    assert response["Location"] == "/console/login/?next=/console/users/"
    assert SESSION_KEY not in client.session


def test_an_admins_sso_session_goes_on_while_sso_is_required(
    required, make_user, idp, assertion_for
):
    admin = make_user(required, "okta-admin@acme.example", role=Role.ADMIN, source=Source.SCIM)
    client = Client()
    post_acs(client, required, idp.response(assertion_for(name_id=admin.username)))

    assert client.get("/console/users/").status_code == 200


# -- Turning the requirement on and off -------------------------------------------------


def test_an_sso_sign_in_records_its_time(
    organization, saml_idp, org_owner, idp, assertion_for, system_actor
):
    assert org_owner.last_sso_sign_in_at is None
    _sso_signed_in_owner(org_owner, organization, idp, assertion_for, system_actor)
    assert org_owner.last_sso_sign_in_at is not None


def test_an_owner_who_never_signed_in_with_sso_cannot_require_it(
    organization, saml_idp, org_owner, owner_client
):
    response = owner_client.post(REQUIRE, {"required": "on"})

    assert response.status_code == 400
    assert "Sign in with single sign-on yourself first" in response.content.decode()
    assert not _required(organization)
    assert not AuditEvent.objects.filter(action=AuditAction.SSO_REQUIREMENT_CHANGED).exists()


def test_an_owner_who_signed_in_with_sso_requires_it(
    organization, saml_idp, org_owner, idp, assertion_for, system_actor
):
    client = _sso_signed_in_owner(org_owner, organization, idp, assertion_for, system_actor)

    response = client.post(REQUIRE, {"required": "on"}, follow=True)

    assert "Members and admins now sign in with single sign-on only." in response.content.decode()
    assert _required(organization)
    event = AuditEvent.objects.get(action=AuditAction.SSO_REQUIREMENT_CHANGED)
    assert (event.actor_id, event.changes) == (
        str(org_owner.pk),
        {"sso_required": {"from": False, "to": True}},
    )


def test_an_sso_sign_in_before_the_idp_last_changed_does_not_count(
    organization, saml_idp, org_owner, idp, assertion_for, system_actor
):
    _sso_signed_in_owner(org_owner, organization, idp, assertion_for, system_actor)
    idp_configure(organization=organization, actor=system_actor, jit_provisioning=True)

    with pytest.raises(SsoNotProven):
        sso_requirement_set(
            organization=organization,
            required=True,
            actor=Actor.for_user(org_owner),
            acting_user=org_owner,
        )
    assert not _required(organization)


def test_sso_must_be_on_before_it_is_required(organization, org_owner, owner_client):
    with pytest.raises(SsoError, match="Turn single sign-on on"):
        sso_requirement_set(
            organization=organization,
            required=True,
            actor=Actor.for_user(org_owner),
            acting_user=org_owner,
        )


def test_an_admin_cannot_change_the_requirement(required, org_admin):
    client = Client()
    client.force_login(org_admin, backend="sso.backends.SamlBackend")
    session = client.session
    session["saml"] = {"organization": "acme"}
    session.save()

    response = client.post(REQUIRE, {"required": "off"})

    assert response.status_code == 403
    assert "Only owners can change single sign-on settings." in response.content.decode()
    assert _required(required)


def test_an_owner_stops_requiring_sso_without_any_proof(required, owner_client):
    response = owner_client.post(REQUIRE, {"required": "off"}, follow=True)

    assert "may sign in with a password again" in response.content.decode()
    assert not _required(required)


def test_turning_sso_off_stops_requiring_it(required, system_actor):
    idp_configure(organization=required, actor=system_actor, enabled=False)

    assert not _required(required)
    latest = AuditEvent.objects.filter(action=AuditAction.SSO_REQUIREMENT_CHANGED).first()
    assert latest.changes == {"sso_required": {"from": True, "to": False}}


def test_the_sso_page_shows_the_owners_break_glass_path(required, owner_client):
    page = owner_client.get(reverse("console:sso")).content.decode()

    assert '<span class="badge badge-ok">Required</span>' in page
    assert "Break-glass:" in page
    assert "Stop requiring single sign-on" in page


def test_the_operations_admin_cannot_turn_the_requirement_on(organization, saml_idp, db):
    from django.contrib.admin.sites import site

    admin = site._registry[Organization]
    assert "sso_required" in admin.get_readonly_fields(None, organization)
