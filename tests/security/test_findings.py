"""One regression test per red-team finding (docs/security.md, "Findings"), each named
after it; every one of them failed on the code the finding was made against."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditAction, AuditEvent, Role, Source, User
from sso.selectors import idp_of
from tests.conftest import ScimClient
from tests.sso.conftest import post_acs, signed_in_user_id
from tests.sso.discovery import discovery_target
from tests.sso.test_slo import idp_logout_request


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


# -- 7. Unbounded PATCH operation lists ---------------------------------------------------

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def test_finding_7_a_patch_with_more_operations_than_the_limit_is_400_too_many(
    token_scim, organization, make_group, make_user, settings
):
    settings.SCIM_MAX_OPERATIONS = 5
    group = make_group(organization, "Everyone")
    user = make_user(organization)
    operations = [
        {"op": "add", "path": "members", "value": [{"value": str(user.pk)}]} for _ in range(6)
    ]

    response = token_scim.patch(
        f"/Groups/{group.pk}", {"schemas": [PATCH_OP], "Operations": operations}
    )

    assert response.status_code == 400
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "400",
        "scimType": "tooMany",
        "detail": "At most 5 operations in one PATCH; this request has 6. "
        "Split it into smaller requests.",
    }
    assert not group.memberships.exists()


def test_finding_7_a_group_body_with_more_members_than_the_limit_is_400_too_many(
    token_scim, organization, make_user, settings
):
    settings.SCIM_MAX_OPERATIONS = 2
    members = [{"value": str(make_user(organization).pk)} for _ in range(3)]

    response = token_scim.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Too big",
            "members": members,
        },
    )

    assert response.status_code == 400
    assert response.json()["scimType"] == "tooMany"
    assert "At most 2 members in one request" in response.json()["detail"]


# -- 9. Inputs that answered 500 -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        (b'{"count": Infinity}', "invalidValue"),
        (b'{"count": 1e400}', "invalidValue"),
        (b'{"count": NaN}', "invalidValue"),
        (b'{"attributes": 5}', "invalidValue"),
        (b'{"excludedAttributes": [1, 2]}', "invalidValue"),
        (b"[" * 100_000 + b"]" * 100_000, "invalidSyntax"),
        (b'{"filter": "userName eq \\"\\ud800\\""}', "invalidValue"),
    ],
    ids=["infinity", "1e400", "nan", "attributes-int", "excluded-ints", "deep", "surrogate"],
)
def test_finding_9_hostile_search_bodies_are_400_not_500(token_scim, body, scim_type):
    response = token_scim.post("/Users/.search", body)

    assert response.status_code == 400, response.content[:300]
    assert response.json()["scimType"] == scim_type


def test_finding_9_a_lone_surrogate_in_a_user_is_400_and_stores_nothing(token_scim, organization):
    body = (
        b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],'
        b' "userName": "ada\\ud800@acme.example"}'
    )

    response = token_scim.post("/Users", body)

    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    assert not User.objects.filter(organization=organization).exists()


def test_finding_9_a_console_sign_in_with_a_bare_word_next_lands_on_the_console(org_owner):
    from tests.conftest import ADMIN_PASSWORD

    response = Client().post(
        reverse("console:login") + "?next=foo",
        {"email": org_owner.email, "password": ADMIN_PASSWORD, "next": "foo"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/console/"


# -- 3. Single logout not bound to the session or the tenant ----------------------------


@pytest.fixture
def saml_session(client, organization, saml_idp, idp, make_user, assertion_for):
    member = make_user(organization, "jane.doe@acme.example")
    assert post_acs(client, organization, idp.response(assertion_for())).status_code == 302
    return member


@pytest.fixture
def globex_idp(other_organization, system_actor):
    from sso.services import idp_configure
    from tests.sso.idp import TestIdentityProvider

    other = TestIdentityProvider(entity_id="http://www.okta.com/exk1globex", common_name="gx")
    idp_configure(
        organization=other_organization,
        actor=system_actor,
        entity_id=other.entity_id,
        sso_url=other.sso_url,
        slo_url=other.slo_url,
        certificates=[other.certificate_pem],
        enabled=True,
    )
    return other


def test_finding_3_another_organizations_logout_request_leaves_the_session(
    client, saml_session, other_organization, globex_idp
):
    url = idp_logout_request(globex_idp, saml_session.username, slug=other_organization.slug)

    response = client.get(url, secure=True)

    assert response.status_code == 302  # globex's IdP gets its answer ...
    assert signed_in_user_id(client) == str(saml_session.pk)  # ... acme's session stays


def test_finding_3_a_logout_request_leaves_a_password_session_alone(
    owner_client, org_owner, other_organization, globex_idp
):
    url = idp_logout_request(globex_idp, org_owner.username, slug=other_organization.slug)

    owner_client.get(url, secure=True)

    assert signed_in_user_id(owner_client) == str(org_owner.pk)


def test_finding_3_a_logout_request_naming_another_user_leaves_the_session(
    client, saml_session, idp
):
    client.get(idp_logout_request(idp, "someone.else@acme.example"), secure=True)

    assert signed_in_user_id(client) == str(saml_session.pk)


def test_finding_3_a_replayed_logout_request_is_refused(
    client, organization, saml_session, idp, assertion_for
):
    url = idp_logout_request(idp, saml_session.username)
    assert client.get(url, secure=True).status_code == 302
    assert signed_in_user_id(client) is None
    post_acs(client, organization, idp.response(assertion_for()))

    replay = client.get(url, secure=True)

    assert replay.status_code == 400
    assert signed_in_user_id(client) == str(saml_session.pk)


def test_finding_3_a_stale_logout_request_is_refused(client, saml_session, idp):
    import datetime as dt

    issued = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)

    response = client.get(
        idp_logout_request(idp, saml_session.username, issued=issued), secure=True
    )

    assert response.status_code == 400
    assert signed_in_user_id(client) == str(saml_session.pk)


def test_finding_3_without_an_idp_slo_url_the_logout_request_gets_a_clear_page(
    client, organization, saml_session, idp, system_actor
):
    from sso.services import idp_configure

    idp_configure(organization=organization, actor=system_actor, slo_url="")

    response = client.get(idp_logout_request(idp, saml_session.username), secure=True)

    assert response.status_code == 200
    assert "has no single-logout address set up here" in response.content.decode()
    assert signed_in_user_id(client) is None


# -- 4. Case folding differs between Python and PostgreSQL --------------------------------


def test_finding_4_greek_capital_and_small_usernames_are_one_username(token_scim):
    first = token_scim.post("/Users", {"schemas": [CORE_USER], "userName": "ΝΙΚΟΣ@acme.example"})
    second = token_scim.post("/Users", {"schemas": [CORE_USER], "userName": "νικος@acme.example"})

    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["scimType"] == "uniqueness"


def test_finding_4_a_greek_name_id_signs_in_the_one_record_it_names(
    client, organization, saml_idp, idp, make_user, assertion_for
):
    nikos = make_user(organization, "νικος@acme.example")

    post_acs(client, organization, idp.response(assertion_for(name_id="ΝΙΚΟΣ@acme.example")))

    assert signed_in_user_id(client) == str(nikos.pk)


def test_finding_4_a_turkish_dotted_i_username_signs_in_by_sso(
    client, organization, saml_idp, idp, make_user, assertion_for
):
    user = make_user(organization, "İsmail@acme.example")

    post_acs(client, organization, idp.response(assertion_for(name_id="İsmail@acme.example")))

    assert signed_in_user_id(client) == str(user.pk)


def test_finding_4_a_scim_filter_finds_the_user_a_create_would_clash_with(token_scim, organization):
    token_scim.post("/Users", {"schemas": [CORE_USER], "userName": "STRASSE@acme.example"})

    found = token_scim.get("/Users", filter='userName eq "straße@acme.example"')

    assert found.json()["totalResults"] == 1


# -- 5. /admin/login/ without a throttle, on the public origin -----------------------------


def test_finding_5_the_operations_admin_login_is_throttled(settings, db):
    settings.CONSOLE_LOGIN_RATE = "3/5m"
    client = Client()
    answers = [
        client.post("/admin/login/", {"username": "ops", "password": f"guess-{i}"}).status_code
        for i in range(4)
    ]

    assert answers == [200, 200, 200, 429]


def test_finding_5_a_throttled_admin_login_does_not_check_the_password(settings, db):
    from accounts.services import operator_create

    operator_create(username="ops", email="", password="the-right-operator-pass-42")
    settings.CONSOLE_LOGIN_RATE = "1/5m"
    client = Client()
    client.post("/admin/login/", {"username": "ops", "password": "wrong"})

    response = client.post(
        "/admin/login/", {"username": "ops", "password": "the-right-operator-pass-42"}
    )

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert signed_in_user_id(client) is None


def test_finding_5_successful_admin_sign_ins_are_not_counted(settings, db):
    from accounts.services import operator_create

    operator_create(username="ops", email="", password="the-right-operator-pass-42")
    settings.CONSOLE_LOGIN_RATE = "1/5m"
    settings.CONSOLE_LOGIN_ADDRESS_RATE = "1/5m"
    client = Client()
    for _ in range(3):
        response = client.post(
            "/admin/login/", {"username": "ops", "password": "the-right-operator-pass-42"}
        )
        assert response.status_code == 302
        client.logout()

    wrong = [
        client.post("/admin/login/", {"username": "ops", "password": "wrong"}).status_code
        for _ in range(2)
    ]
    assert wrong == [200, 429]


def test_finding_5_with_admin_hosts_the_admin_is_not_on_the_public_origin(settings, db):
    settings.ALLOWED_HOSTS = ["roster.example.com", "ops.internal.example"]
    settings.ADMIN_HOSTS = ["ops.internal.example"]
    client = Client()

    assert client.get("/admin/login/", HTTP_HOST="roster.example.com").status_code == 404
    assert client.get("/admin/", HTTP_HOST="roster.example.com").status_code == 404
    assert client.get("/admin/login/", HTTP_HOST="ops.internal.example").status_code == 200
    assert client.get("/console/login/", HTTP_HOST="roster.example.com").status_code == 200


# -- 6. Any tenant claims any email domain at /signin/ ----------------------------------


@pytest.fixture
def victimcorp(make_organization, idp, system_actor):
    """The organization that owns victimcorp.example, with SSO on but no domain verified."""
    from sso.services import idp_configure

    victim = make_organization("victimcorp", "VictimCorp")
    idp_configure(
        organization=victim,
        actor=system_actor,
        entity_id="http://www.okta.com/exkvictim",
        sso_url=idp.sso_url,
        certificates=[idp.certificate_pem],
        enabled=True,
    )
    return victim


def test_finding_6_a_scim_user_at_someone_elses_domain_does_not_capture_it(
    client, organization, saml_idp, victimcorp, token_scim
):
    # Organization "acme" (B) provisions one user with an address at victimcorp.example.
    created = token_scim.post(
        "/Users", {"schemas": [CORE_USER], "userName": "x@victimcorp.example"}
    )
    assert created.status_code == 201

    response = client.post("/signin/", {"email": "ceo@victimcorp.example"})

    assert response.status_code == 404
    assert "Location" not in response


def test_finding_6_only_the_organization_that_verified_the_domain_is_offered(
    client, organization, saml_idp, victimcorp, token_scim, make_verified_domain
):
    token_scim.post("/Users", {"schemas": [CORE_USER], "userName": "x@victimcorp.example"})
    make_verified_domain(victimcorp, "victimcorp.example")

    response = client.post("/signin/", {"email": "ceo@victimcorp.example"})

    assert discovery_target(response) == "/sso/victimcorp/login/"


def test_finding_6_discovery_is_one_lookup_whatever_the_number_of_users(
    client, organization, saml_idp, make_user, acme_domain, django_assert_num_queries
):
    for index in range(30):
        make_user(organization, f"person{index}@acme.example")

    # The lookup and the address's miss counter (sso.views.portal).
    with django_assert_num_queries(2):
        response = client.post("/signin/", {"email": "someone@acme.example"})

    assert discovery_target(response) == "/sso/acme/login/"


# -- 9 (continued). Anonymous ACS posts flood the audit table ---------------------------


def test_finding_9_anonymous_acs_posts_are_throttled_per_address(
    client, organization, saml_idp, settings
):
    settings.SSO_ACS_RATE = "5/1m"
    answers = [
        client.post(f"/sso/{organization.slug}/acs/", {"SAMLResponse": "bm90IHNhbWw="}, secure=True)
        for _ in range(6)
    ]

    assert [a.status_code for a in answers] == [403] * 5 + [429]
    assert 0 < int(answers[-1]["Retry-After"]) <= 60


def test_finding_9_unproven_acs_failures_write_a_bounded_number_of_audit_rows(
    organization, saml_idp, settings
):
    settings.SSO_ACS_RATE = "1000/1m"
    settings.SSO_UNTRUSTED_FAILURE_AUDIT_RATE = "3/10m"
    for i in range(10):
        # Each from its own address: the per-address throttle is not what bounds the rows.
        Client(REMOTE_ADDR=f"203.0.113.{i}").post(
            f"/sso/{organization.slug}/acs/", {"SAMLResponse": "bm90IHNhbWw="}, secure=True
        )

    assert AuditEvent.objects.filter(action=AuditAction.SSO_LOGIN_FAILED).count() == 3


def test_finding_9_a_signed_assertions_failure_is_always_audited(
    client, organization, saml_idp, idp, assertion_for, settings
):
    settings.SSO_UNTRUSTED_FAILURE_AUDIT_RATE = "1/10m"
    client.post(f"/sso/{organization.slug}/acs/", {"SAMLResponse": "bm90IHNhbWw="}, secure=True)
    client.post(f"/sso/{organization.slug}/acs/", {"SAMLResponse": "bm90IHNhbWw="}, secure=True)

    post_acs(client, organization, idp.response(assertion_for(name_id="nobody@acme.example")))

    reasons = [
        e.changes["reason"] for e in AuditEvent.objects.filter(action=AuditAction.SSO_LOGIN_FAILED)
    ]
    assert reasons.count("unknown_user") == 1
    assert len(reasons) == 2


# -- 10. Console pages cached; failed console sign-ins unaudited ---------------------------


@pytest.mark.parametrize(
    "page", ["console:home", "console:users", "console:activity", "console:sso", "console:groups"]
)
def test_console_data_pages_are_never_stored_by_the_browser(owner_client, page):
    response = owner_client.get(reverse(page))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_a_failed_console_sign_in_is_audited_in_the_users_organization(org_owner):
    response = Client().post(
        reverse("console:login"), {"email": org_owner.email, "password": "not-the-password"}
    )

    assert response.status_code == 400
    event = AuditEvent.objects.get(action=AuditAction.CONSOLE_LOGIN_FAILED)
    assert (event.target_id, event.changes["reason"]) == (
        str(org_owner.pk),
        "wrong email or password",
    )
