"""Sign-in limits tell people from junk: a whole office behind one address signs in at
9:00, while posts that prove no sender are throttled per address (issue: the ACS used
to count valid sign-ins against a 30-a-minute limit per address)."""

import time

from django.test import Client

from accounts.models import AuditAction, AuditEvent
from tests.sso.conftest import acs_path, post_acs, signed_in_user_id
from tests.sso.discovery import discovery_target

OFFICE_ADDRESS = "198.51.100.20"
JUNK = {"SAMLResponse": "bm90IHNhbWw="}  # base64 of "not saml"


def browser(address=OFFICE_ADDRESS) -> Client:
    return Client(REMOTE_ADDR=address)


def post_junk(organization, address=OFFICE_ADDRESS):
    return browser(address).post(acs_path(organization), JUNK, secure=True)


def sign_in(idp, assertion_for, organization, name_id, address=OFFICE_ADDRESS, client=None):
    """A sign-in from a fresh browser (or `client` with its cookies cleared)."""
    client = client or browser(address)
    client.cookies.clear()
    response = post_acs(client, organization, idp.response(assertion_for(name_id=name_id)))
    return response, client


def failures_by_reason(organization):
    events = AuditEvent.objects.filter(
        organization=organization, action=AuditAction.SSO_LOGIN_FAILED
    )
    return [event.changes["reason"] for event in events]


def test_300_valid_sign_ins_from_one_address_within_a_minute_all_succeed(
    organization, saml_idp, idp, assertion_for, make_user
):
    people = [make_user(organization, f"person{n}@acme.example") for n in range(60)]

    answers = []
    office = browser()
    for _ in range(5):
        for person in people:
            response, client = sign_in(
                idp, assertion_for, organization, person.username, client=office
            )
            answers.append((response.status_code, signed_in_user_id(client) == str(person.pk)))

    assert answers == [(302, True)] * 300
    assert failures_by_reason(organization) == []


def test_60_junk_posts_from_one_address_are_throttled_with_bounded_audit_rows(
    organization, saml_idp
):
    statuses = [post_junk(organization).status_code for _ in range(60)]

    # SSO_ACS_RATE: 30 unattributed posts a minute per address, then 429 with nothing
    # written; SSO_UNTRUSTED_FAILURE_AUDIT_RATE: 20 audit rows of them per organization.
    assert statuses == [403] * 30 + [429] * 30
    assert len(failures_by_reason(organization)) == 20


def test_a_throttled_junk_post_says_when_to_retry(organization, saml_idp, settings):
    settings.SSO_ACS_RATE = "1/1m"
    post_junk(organization)

    throttled = post_junk(organization)

    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert b"Too many sign-in attempts" in throttled.content


def test_a_valid_sign_in_from_an_address_throttled_for_junk_still_succeeds(
    organization, saml_idp, idp, assertion_for, member, settings
):
    settings.SSO_ACS_RATE = "3/1m"
    assert [post_junk(organization).status_code for _ in range(4)] == [403, 403, 403, 429]

    response, client = sign_in(idp, assertion_for, organization, member.username)

    assert response.status_code == 302
    assert signed_in_user_id(client) == str(member.pk)
    assert post_junk(organization).status_code == 429


def test_replays_count_against_the_address_as_junk(
    organization, saml_idp, idp, assertion_for, member, settings
):
    settings.SSO_ACS_RATE = "2/1m"
    xml = idp.response(assertion_for(name_id=member.username))

    answers = [post_acs(browser(), organization, xml).status_code for _ in range(4)]

    assert answers == [302, 403, 403, 429]
    assert failures_by_reason(organization) == ["replayed", "replayed"]


def test_posts_for_no_organization_count_against_the_address(db, settings):
    settings.SSO_ACS_RATE = "2/1m"
    client = browser()

    answers = [client.post("/sso/nobody/acs/", JUNK, secure=True).status_code for _ in range(3)]

    assert answers == [404, 404, 429]


def test_a_refusal_of_a_signed_assertion_is_not_counted_against_the_address(
    organization, saml_idp, idp, assertion_for, settings
):
    # The IdP vouched for these: an unknown person is the organization's own business.
    settings.SSO_ACS_RATE = "1/1m"

    answers = [
        sign_in(idp, assertion_for, organization, f"stranger{n}@acme.example")[0].status_code
        for n in range(3)
    ]

    assert answers == [403, 403, 403]
    assert failures_by_reason(organization) == ["unknown_user"] * 3


class TestOrganizationCeiling:
    def test_refuses_past_its_value_and_is_audited_once_per_window(
        self, organization, saml_idp, idp, assertion_for, member, settings, monkeypatch
    ):
        settings.SSO_ORGANIZATION_SIGN_IN_RATE = "3/1m"
        window = (int(time.time()) // 60) * 60 + 1
        monkeypatch.setattr("config.ratelimit.clock", lambda: window)

        answers = [
            sign_in(idp, assertion_for, organization, member.username, address=f"203.0.113.{n}")[
                0
            ].status_code
            for n in range(6)
        ]

        assert answers == [302, 302, 302, 429, 429, 429]
        assert failures_by_reason(organization) == ["organization_rate_exceeded"]
        event = AuditEvent.objects.get(action=AuditAction.SSO_LOGIN_FAILED)
        assert event.changes["detail"] == (
            "More than 3 signed sign-ins in 60 s; refused until the window ends."
        )

        monkeypatch.setattr("config.ratelimit.clock", lambda: window + 60)
        assert sign_in(idp, assertion_for, organization, member.username)[0].status_code == 302

    def test_counts_each_organization_apart(
        self, organization, saml_idp, idp, assertion_for, member, settings
    ):
        settings.SSO_ORGANIZATION_SIGN_IN_RATE = "1/1m"
        assert sign_in(idp, assertion_for, organization, member.username)[0].status_code == 302
        assert sign_in(idp, assertion_for, organization, member.username)[0].status_code == 429

    def test_the_default_is_far_above_an_office(self, settings):
        assert settings.SSO_ORGANIZATION_SIGN_IN_RATE == "3000/1m"


class TestSingleLogout:
    def test_the_signed_out_page_and_signing_out_are_never_limited(
        self, organization, saml_idp, settings
    ):
        settings.SSO_SLO_RATE = "1/1m"
        client = browser()
        path = f"/sso/{organization.slug}/slo/"

        pages = [client.get(path, secure=True).status_code for _ in range(5)]
        sign_outs = [client.post(path, secure=True).status_code for _ in range(5)]

        assert pages == [200] * 5
        assert sign_outs == [302] * 5

    def test_logout_requests_that_fail_validation_are_throttled_per_address(
        self, organization, saml_idp, settings
    ):
        settings.SSO_SLO_RATE = "2/1m"
        client = browser()
        path = f"/sso/{organization.slug}/slo/"

        answers = [
            client.get(path, {"SAMLRequest": "bm90IHNhbWw="}, secure=True).status_code
            for _ in range(3)
        ]

        assert answers == [400, 400, 429]
        assert client.get(path, secure=True).status_code == 200


class TestDiscovery:
    def test_lookups_that_find_nothing_are_throttled_then_every_lookup_waits(
        self, organization, saml_idp, settings
    ):
        settings.SIGNIN_DISCOVERY_MISS_RATE = "2/1m"
        client = browser()

        misses = [
            client.post("/signin/", {"organization": f"nope{n}"}).status_code for n in range(3)
        ]
        found = client.post("/signin/", {"organization": organization.slug})

        # Past the limit a hit would tell an enumerator what a miss no longer does, so
        # every lookup waits for the window.
        assert misses == [404, 404, 429]
        assert found.status_code == 429
        assert b"Too many lookups" in found.content
        other = browser("203.0.113.99").post("/signin/", {"organization": organization.slug})
        assert discovery_target(other) == "/sso/acme/login/"

    def test_people_who_find_their_organization_are_never_counted(
        self, organization, saml_idp, settings
    ):
        settings.SIGNIN_DISCOVERY_MISS_RATE = "1/1m"
        client = browser()

        answers = [
            discovery_target(client.post("/signin/", {"organization": organization.slug}))
            for _ in range(10)
        ]

        assert answers == ["/sso/acme/login/"] * 10
