"""OpenID Connect sign-in end to end through Roster's views, against a provider the tests
control (tests.sso.oidc.provider): the flow, the hostile corpus at the callback (each
refused with its reason audited and no session), subject binding, logout channels,
connection switching, and what SAML already had for sessions."""

import base64
import hashlib
import hmac
import json
import time
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from joserfc import jwt
from joserfc.jwk import KeySet
from lxml import etree

from accounts.actors import Actor
from accounts.models import AuditAction, AuditEvent, Role, Source
from accounts.services import organization_set_sso_required, user_deactivate
from config import metrics
from sso.models import ClientAuthMethod, OidcConnection, OidcSession, OidcSubject
from sso.services import idp_configure, sso_requirement_set
from sso.services.oidc import oidc_configure, provider_metadata, sign_in_connection_switch
from tests.sso.conftest import post_acs
from tests.sso.discovery import discovery_target
from tests.sso.oidc.provider import ControlledProvider, new_key

CALLBACK = "https://roster.example.com/sso/acme/oidc/callback/"


@pytest.fixture
def provider(settings):
    settings.OIDC_ALLOW_LOOPBACK = True
    provider = ControlledProvider()
    yield provider
    provider.stop()


def configure(organization, provider, **options):
    return oidc_configure(
        organization=organization,
        metadata=provider_metadata(issuer=provider.issuer),
        client_id=provider.CLIENT_ID,
        client_secret=options.pop("client_secret", provider.CLIENT_SECRET),
        actor=Actor.system("tests"),
        **options,
    )


@pytest.fixture
def connection(organization, provider):
    return configure(organization, provider)


def browser() -> Client:
    return Client(REMOTE_ADDR="198.51.100.7")


def begin(client, organization, provider, path=None, **params):
    """The sign-in's start; returns the authorization request's query. The provider
    will put its nonce in the next ID token, as a real one does."""
    response = client.get(path or f"/sso/{organization.slug}/login/", params, secure=True)
    assert response.status_code == 302
    query = {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}
    provider.pending_nonce = query.get("nonce", "")
    return query


def finish(client, organization, state, **params):
    params = {"state": state, "code": "code-1", **params}
    return client.get(f"/sso/{organization.slug}/oidc/callback/", params, secure=True)


def sign_in(client, organization, provider, **params):
    query = begin(client, organization, provider)
    return finish(client, organization, query["state"], **params)


def refusal_reasons(organization) -> list[str]:
    return [
        event.changes["reason"]
        for event in AuditEvent.objects.filter(
            organization=organization, action=AuditAction.SSO_LOGIN_FAILED
        ).order_by("id")
    ]


def signed_in_user_id(client):
    return client.session.get(SESSION_KEY)


# -- The flow ---------------------------------------------------------------------------


def test_the_authorization_request_is_code_flow_with_pkce(
    client, organization, connection, provider
):
    query = begin(client, organization, provider, next="/console/")

    assert query["response_type"] == "code"
    assert query["client_id"] == provider.CLIENT_ID
    assert query["redirect_uri"] == CALLBACK
    assert query["scope"].split() == ["openid", "email", "profile"]
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 43 and len(query["nonce"]) >= 43
    assert query["state"] != query["nonce"]


def test_a_member_signs_in_and_lands_on_next(client, organization, connection, provider, member):
    query = begin(client, organization, provider, next="/api/v1/me")
    response = finish(client, organization, query["state"])

    assert response.status_code == 302
    assert response["Location"] == "/api/v1/me"
    assert signed_in_user_id(client) == str(member.pk)
    (exchange,) = provider.posts_to("/token")
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["code"] == "code-1"
    assert exchange["redirect_uri"] == CALLBACK
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(exchange["code_verifier"].encode()).digest()
    ).rstrip(b"=")
    assert challenge.decode() == query["code_challenge"]
    event = AuditEvent.objects.get(action=AuditAction.SSO_LOGIN)
    assert event.changes == {
        "protocol": "oidc",
        "idp_initiated": False,
        "created": False,
        "linked": True,
    }
    assert OidcSubject.objects.get().sub == "00u-jane"
    session = OidcSession.objects.get()
    assert (session.user_id, session.sid) == (member.pk, "provider-session-1")
    connection.refresh_from_db()
    assert connection.last_success_at is not None


def test_the_client_secret_goes_as_http_basic(client, organization, connection, provider, member):
    sign_in(client, organization, provider)

    (headers,) = [h for method, path, h, _ in provider.requests if path == "/token"]
    scheme, _, encoded = headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == f"{provider.CLIENT_ID}:{provider.CLIENT_SECRET}"


def test_private_key_jwt_signs_with_the_key_published_at_the_jwks_url(
    client, organization, provider, member
):
    configure(organization, provider, client_auth_method=ClientAuthMethod.PRIVATE_KEY_JWT)
    published = client.get("/sso/acme/oidc/jwks.json").json()

    assert sign_in(client, organization, provider).status_code == 302
    (exchange,) = provider.posts_to("/token")
    assert exchange["client_assertion_type"] == (
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    )
    assertion = jwt.decode(exchange["client_assertion"], KeySet.import_key_set(published))
    assert assertion.claims["iss"] == assertion.claims["sub"] == provider.CLIENT_ID
    assert assertion.claims["aud"] == f"{provider.issuer}/token"
    assert "client_secret" not in exchange


# -- The hostile corpus, at the callback ------------------------------------------------

HOSTILE = {
    "wrong_audience": {"aud": "another-client"},
    "wrong_issuer": {"iss": "https://evil.example"},
    "expired": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    "issued_in_future": {"iat": int(time.time()) + 3600},
    "not_yet_valid": {"nbf": int(time.time()) + 3600},
    "nonce_mismatch": {"nonce": "a-nonce-from-another-sign-in"},
    "nonce_missing": {"nonce": None},
    "at_hash_mismatch": {"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"},
    "azp_mismatch": {"aud": [ControlledProvider.CLIENT_ID, "other"], "azp": "other"},
}


@pytest.mark.parametrize("reason", sorted(HOSTILE))
def test_hostile_id_tokens_are_refused_and_audited(
    reason, organization, connection, provider, member
):
    provider.claims = {k: v for k, v in HOSTILE[reason].items() if v is not None}
    client = browser()
    query = begin(client, organization, provider)
    if HOSTILE[reason].get("nonce", "") is None:
        provider.pending_nonce = None
    response = finish(client, organization, query["state"])

    assert response.status_code == 400
    assert refusal_reasons(organization) == [reason]
    assert signed_in_user_id(client) is None
    assert OidcSubject.objects.count() == 0
    connection.refresh_from_db()
    assert connection.last_failure_reason == reason


def test_a_token_signed_by_an_unknown_key_refetches_the_jwks_once_then_refuses(
    organization, connection, provider, member
):
    assert sign_in(browser(), organization, provider).status_code == 302  # the JWKS cached
    stranger = new_key("stranger")

    def stranger_signs(client):
        query = begin(client, organization, provider)
        claims = provider.id_token_claims(query["nonce"])
        provider.token_answer = (
            200,
            {
                "access_token": provider.ACCESS_TOKEN,
                "id_token": provider.token(claims, key=stranger),
            },
        )
        return finish(client, organization, query["state"])

    assert stranger_signs(browser()).status_code == 400
    assert stranger_signs(browser()).status_code == 400

    assert refusal_reasons(organization) == ["unknown_kid", "unknown_kid"]
    # The cached set, then one refresh for the unknown kid; the second stranger within
    # 60 s fetches nothing (no fetch amplification).
    assert [r[1] for r in provider.requests if r[1] == "/jwks"] == ["/jwks", "/jwks"]


def test_a_provider_key_rotation_is_picked_up_without_downtime(
    organization, connection, provider, member
):
    assert sign_in(browser(), organization, provider).status_code == 302
    provider.rotate()

    client = browser()
    assert sign_in(client, organization, provider).status_code == 302
    assert signed_in_user_id(client) == str(member.pk)


def test_saving_the_settings_again_reads_the_providers_keys_afresh(
    organization, connection, provider, member, django_capture_on_commit_callbacks
):
    assert sign_in(browser(), organization, provider).status_code == 302
    # The provider withdraws its key (compromised, say) and signs with a new one under
    # the same kid: the cached set still holds the withdrawn key.
    withdrawn = provider.signing_key
    provider.keys = [new_key(withdrawn.kid)]
    provider.signing_key = provider.keys[0]
    assert sign_in(browser(), organization, provider).status_code == 400
    assert refusal_reasons(organization) == ["bad_signature"]

    with django_capture_on_commit_callbacks(execute=True):
        configure(organization, provider)

    client = browser()
    assert sign_in(client, organization, provider).status_code == 302
    assert signed_in_user_id(client) == str(member.pk)
    assert [r[1] for r in provider.requests if r[1] == "/jwks"] == ["/jwks", "/jwks"]


def test_alg_none_is_refused(client, organization, connection, provider, member):
    query = begin(client, organization, provider)
    claims = provider.id_token_claims(query["nonce"])
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    provider.token_answer = (200, {"access_token": "x", "id_token": f"{header}.{body}."})

    assert finish(client, organization, query["state"]).status_code == 400
    assert refusal_reasons(organization) == ["alg_not_allowed"]


def test_a_callback_with_another_state_is_refused_before_any_token_request(
    client, organization, connection, provider, member
):
    begin(client, organization, provider)
    response = finish(client, organization, "a-state-nobody-issued")

    assert response.status_code == 400
    assert refusal_reasons(organization) == ["invalid_state"]
    assert provider.posts_to("/token") == []


def test_a_copied_state_and_cookie_are_refused_the_second_time(
    organization, connection, provider, member
):
    first = browser()
    query = begin(first, organization, provider)
    cookie = first.cookies["roster_oidc_pending"].value
    assert finish(first, organization, query["state"]).status_code == 302

    second = browser()
    second.cookies["roster_oidc_pending"] = cookie
    response = finish(second, organization, query["state"])

    assert response.status_code == 400
    assert refusal_reasons(organization) == ["state_reused"]
    assert signed_in_user_id(second) is None
    assert len(provider.posts_to("/token")) == 1


def test_a_reused_code_is_refused(client, organization, connection, provider, member):
    query = begin(client, organization, provider)
    provider.token_answer = (400, {"error": "invalid_grant"})

    assert finish(client, organization, query["state"]).status_code == 400
    assert refusal_reasons(organization) == ["code_rejected"]


def test_an_error_from_the_provider_is_refused_with_its_code(
    client, organization, connection, provider, member
):
    query = begin(client, organization, provider)
    response = finish(client, organization, query["state"], code="", error="access_denied")

    assert response.status_code == 400
    assert refusal_reasons(organization) == ["provider_error"]
    assert provider.posts_to("/token") == []


def test_a_callback_naming_another_issuer_is_refused(
    client, organization, connection, provider, member
):
    query = begin(client, organization, provider)
    response = finish(client, organization, query["state"], iss="https://evil.example")

    assert response.status_code == 400
    assert refusal_reasons(organization) == ["wrong_issuer"]
    assert provider.posts_to("/token") == []


def test_a_provider_that_fails_gives_the_502_page(
    client, organization, connection, provider, member
):
    before = metrics.OIDC_PROVIDER_FAILURES.labels(reason="provider_5xx")._value.get()
    provider.status_for["/token"] = 503
    query = begin(client, organization, provider)
    response = finish(client, organization, query["state"])

    assert response.status_code == 502
    assert b"Your identity provider did not answer" in response.content
    assert metrics.OIDC_PROVIDER_FAILURES.labels(reason="provider_5xx")._value.get() == before + 1
    assert signed_in_user_id(client) is None


# -- Who signs in -----------------------------------------------------------------------


def test_a_linked_sub_signs_in_its_person_whatever_the_other_claims_say(
    organization, connection, provider, member, make_user
):
    assert sign_in(browser(), organization, provider).status_code == 302
    make_user(organization, "someone.else@acme.example")
    provider.claims = {"preferred_username": "someone.else@acme.example"}

    client = browser()
    assert sign_in(client, organization, provider).status_code == 302
    assert signed_in_user_id(client) == str(member.pk)


def test_a_person_linked_to_another_sub_is_refused(organization, connection, provider, member):
    assert sign_in(browser(), organization, provider).status_code == 302
    provider.claims = {"sub": "00u-someone-else"}

    client = browser()
    assert sign_in(client, organization, provider).status_code == 400
    assert refusal_reasons(organization) == ["linked_to_another_subject"]
    assert signed_in_user_id(client) is None


def test_an_unknown_person_is_refused_without_jit(client, organization, connection, provider):
    assert sign_in(client, organization, provider).status_code == 400
    assert refusal_reasons(organization) == ["unknown_user"]


def test_a_deactivated_person_gets_403(client, organization, connection, provider, member):
    user_deactivate(user=member, actor=Actor.system("tests"))

    assert sign_in(client, organization, provider).status_code == 403
    assert refusal_reasons(organization) == ["user_deactivated"]


def test_a_console_only_user_is_refused(client, organization, connection, provider, make_user):
    make_user(organization, "jane.doe@acme.example", source=Source.MANUAL, role=Role.OWNER)

    assert sign_in(client, organization, provider).status_code == 400
    assert refusal_reasons(organization) == ["console_only_user"]


class TestEmailMatching:
    @pytest.fixture
    def connection(self, organization, provider):
        return configure(organization, provider, email_claim="email")

    def test_a_verified_email_at_a_verified_domain_matches(
        self, client, organization, connection, provider, member, acme_domain
    ):
        provider.claims = {"preferred_username": "jdoe"}

        assert sign_in(client, organization, provider).status_code == 302
        assert signed_in_user_id(client) == str(member.pk)

    def test_an_unverified_email_is_refused(
        self, client, organization, connection, provider, member, acme_domain
    ):
        provider.claims = {"email_verified": False}

        assert sign_in(client, organization, provider).status_code == 400
        assert refusal_reasons(organization) == ["email_not_verified"]

    def test_an_email_at_an_unverified_domain_is_refused(
        self, client, organization, connection, provider, member
    ):
        assert sign_in(client, organization, provider).status_code == 400
        assert refusal_reasons(organization) == ["email_not_in_verified_domain"]

    def test_a_missing_email_is_read_from_userinfo_whose_sub_must_match(
        self, client, organization, connection, provider, member, acme_domain
    ):
        provider.claims = {"email": None, "email_verified": None}
        provider.userinfo = {
            "sub": "00u-somebody-else",
            "email": "jane.doe@acme.example",
            "email_verified": True,
        }

        assert sign_in(client, organization, provider).status_code == 400
        assert refusal_reasons(organization) == ["userinfo_sub_mismatch"]

    def test_jit_creates_a_person_at_a_verified_domain(
        self, client, organization, provider, acme_domain
    ):
        configure(organization, provider, email_claim="email", jit_provisioning=True)
        provider.claims = {"email": "new.person@acme.example", "sub": "00u-new"}

        assert sign_in(client, organization, provider).status_code == 302
        event = AuditEvent.objects.get(action=AuditAction.SSO_LOGIN)
        assert event.changes["created"] is True


# -- Third-party initiated login --------------------------------------------------------


def test_an_initiation_from_another_issuer_is_refused_with_nothing_fetched(
    client, organization, connection, provider
):
    provider.requests.clear()
    response = client.get("/sso/acme/login/", {"iss": "https://evil.example"}, secure=True)

    assert response.status_code == 400
    assert provider.requests == []


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_initiation_from_the_provider_starts_a_sign_in(
    method, client, organization, connection, provider
):
    data = {"iss": provider.issuer, "login_hint": "jane", "target_link_uri": CALLBACK}
    response = getattr(client, method)("/sso/acme/login/", data, secure=True)

    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["login_hint"] == ["jane"]


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("https://roster.example.com/console/users/", "/console/users/"),
        ("https://roster.example.com/", "/"),
        ("https://roster.example.com/sso/acme/slo/", "/sso/acme/slo/"),
        ("https://evil.example/console/", "/"),
        ("https://roster.example.com/api/v1/me", "/"),
        ("https://roster.example.com/sso/globex/login/", "/"),
        ("//evil.example/", "/"),
    ],
)
def test_target_link_uri_is_followed_only_inside_roster(
    target, landing, organization, connection, provider, member
):
    client = browser()
    response = client.get(
        "/sso/acme/login/", {"iss": provider.issuer, "target_link_uri": target}, secure=True
    )
    state = parse_qs(urlsplit(response["Location"]).query)["state"][0]
    provider.pending_nonce = parse_qs(urlsplit(response["Location"]).query)["nonce"][0]

    assert finish(client, organization, state)["Location"] == landing


# -- Logout -----------------------------------------------------------------------------


def test_back_channel_logout_ends_the_sessions_of_that_sid(
    organization, connection, provider, member
):
    client = browser()
    assert sign_in(client, organization, provider).status_code == 302

    response = Client().post(
        "/sso/acme/oidc/backchannel-logout/", {"logout_token": provider.logout_token()}
    )

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert signed_in_user_id(client) is None
    assert OidcSession.objects.count() == 0
    event = AuditEvent.objects.get(action=AuditAction.SSO_SESSIONS_ENDED)
    assert event.changes["channel"] == "backchannel"
    assert event.changes["sessions"] == 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"events": None},
        {"nonce": "not-allowed-here"},
        {"sub": None, "sid": None},
        {"aud": "another-client"},
        {"iss": "https://evil.example"},
    ],
)
def test_an_invalid_logout_token_ends_nothing(
    overrides, organization, connection, provider, member
):
    client = browser()
    assert sign_in(client, organization, provider).status_code == 302

    response = Client().post(
        "/sso/acme/oidc/backchannel-logout/", {"logout_token": provider.logout_token(**overrides)}
    )

    assert response.status_code == 400
    assert signed_in_user_id(client) == str(member.pk)


def test_a_replayed_logout_token_is_refused(organization, connection, provider, member):
    token = provider.logout_token()
    assert (
        Client().post("/sso/acme/oidc/backchannel-logout/", {"logout_token": token}).status_code
        == 200
    )

    replay = Client().post("/sso/acme/oidc/backchannel-logout/", {"logout_token": token})

    assert replay.status_code == 400


def test_front_channel_logout_ends_the_sessions_of_that_sid(
    organization, connection, provider, member
):
    client = browser()
    assert sign_in(client, organization, provider).status_code == 302

    response = Client().get(
        "/sso/acme/oidc/frontchannel-logout/",
        {"iss": provider.issuer, "sid": "provider-session-1"},
    )

    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    assert signed_in_user_id(client) is None


def test_signing_out_goes_on_to_the_providers_end_session_endpoint(
    organization, connection, provider, member
):
    client = browser()
    assert sign_in(client, organization, provider).status_code == 302

    response = client.post("/sso/acme/slo/", secure=True)

    target = urlsplit(discovery_target(response))
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{provider.issuer}/logout"
    query = parse_qs(target.query)
    assert query["post_logout_redirect_uri"] == ["https://roster.example.com/sso/acme/slo/"]
    assert query["id_token_hint"][0].count(".") == 2
    assert signed_in_user_id(client) is None


# -- Sessions, enforcement, switching ---------------------------------------------------


def test_deactivation_ends_an_oidc_session(
    organization, connection, provider, member, django_capture_on_commit_callbacks
):
    client = browser()
    assert sign_in(client, organization, provider).status_code == 302

    with django_capture_on_commit_callbacks(execute=True):
        user_deactivate(user=member, actor=Actor.system("scim"))

    assert signed_in_user_id(client) is None


def test_clearsessions_forgets_the_records_of_oidc_sessions_that_are_gone(
    organization, connection, provider, member
):
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.core.management import call_command
    from django.utils import timezone

    keys = []
    for _ in range(3):
        client = browser()
        assert sign_in(client, organization, provider).status_code == 302
        keys.append(client.session.session_key)
    live, expired, ended = keys
    Session.objects.filter(session_key=expired).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    Session.objects.filter(session_key=ended).delete()  # ended without a sign-out

    call_command("clearsessions")

    assert list(OidcSession.objects.values_list("session_key", flat=True)) == [live]


def test_requiring_sso_works_once_the_owner_signed_in_through_oidc(
    organization, connection, provider, make_user
):
    owner = make_user(organization, "owner.sso@acme.example", role=Role.OWNER)
    provider.claims = {"preferred_username": owner.username, "sub": "00u-owner"}
    assert sign_in(browser(), organization, provider).status_code == 302
    owner.refresh_from_db()

    sso_requirement_set(
        organization=organization, required=True, actor=Actor.for_user(owner), acting_user=owner
    )

    organization.refresh_from_db()
    assert organization.sso_required is True


def test_signin_discovery_sends_people_to_the_oidc_connection(
    client, organization, connection, acme_domain
):
    response = client.post("/signin/", {"email": "someone@acme.example"})
    assert discovery_target(response) == "/sso/acme/login/"


class TestSwitching:
    @pytest.fixture
    def saml_active(self, organization, idp):
        return idp_configure(
            organization=organization,
            actor=Actor.system("tests"),
            entity_id=idp.entity_id,
            sso_url=idp.sso_url,
            certificates=[idp.certificate_pem],
            enabled=True,
        )

    @pytest.fixture
    def owner(self, organization, make_user):
        return make_user(organization, "owner.sso@acme.example", role=Role.OWNER)

    def test_oidc_configured_beside_active_saml_waits(self, organization, provider, saml_active):
        connection = configure(organization, provider)
        assert connection.enabled is False
        response = Client().get("/sso/acme/login/", secure=True)
        assert urlsplit(response["Location"]).netloc != urlsplit(provider.issuer).netloc

    def test_an_owner_proves_the_new_connection_then_switches(
        self, organization, provider, saml_active, owner
    ):
        connection = configure(organization, provider)
        with pytest.raises(Exception, match="Test sign-in"):
            sign_in_connection_switch(
                organization=organization, to="oidc", actor=Actor.for_user(owner), acting_user=owner
            )
        client = browser()
        client.force_login(owner, backend="accounts.backends.ConsoleEmailBackend")
        provider.claims = {"preferred_username": owner.username, "sub": "00u-owner"}
        query = begin(client, organization, provider, test="oidc")
        assert finish(client, organization, query["state"])["Location"] == "/console/sso/"

        sign_in_connection_switch(
            organization=organization, to="oidc", actor=Actor.for_user(owner), acting_user=owner
        )

        connection.refresh_from_db()
        saml_active.refresh_from_db()
        assert (connection.enabled, saml_active.enabled) == (True, False)
        event = AuditEvent.objects.get(action=AuditAction.SSO_CONNECTION_SWITCHED)
        assert event.changes == {"from": "saml", "to": "oidc"}

    def test_a_test_sign_in_as_someone_else_proves_nothing(
        self, organization, provider, saml_active, owner, member
    ):
        connection = configure(organization, provider)
        client = browser()
        client.force_login(owner, backend="accounts.backends.ConsoleEmailBackend")
        query = begin(client, organization, provider, test="oidc")

        assert finish(client, organization, query["state"]).status_code == 400
        assert refusal_reasons(organization) == ["test_user_mismatch"]
        connection.refresh_from_db()
        assert connection.proven_by_id is None

    def test_only_owners_start_a_test_sign_in(self, organization, provider, saml_active, member):
        configure(organization, provider)
        client = browser()
        client.force_login(member, backend="sso.backends.SamlBackend")

        assert client.get("/sso/acme/login/", {"test": "oidc"}, secure=True).status_code == 403

    def test_saml_cannot_be_turned_on_beside_active_oidc(self, organization, provider, idp):
        configure(organization, provider)
        with pytest.raises(Exception, match="OpenID Connect is the active"):
            idp_configure(
                organization=organization,
                actor=Actor.system("tests"),
                entity_id=idp.entity_id,
                sso_url=idp.sso_url,
                certificates=[idp.certificate_pem],
                enabled=True,
            )
        assert OidcConnection.objects.get().enabled is True

    def test_switching_back_to_saml_needs_a_saml_test_sign_in(
        self, organization, provider, idp, assertion_for, owner
    ):
        configure(organization, provider)
        saml = idp_configure(
            organization=organization,
            actor=Actor.system("tests"),
            entity_id=idp.entity_id,
            sso_url=idp.sso_url,
            certificates=[idp.certificate_pem],
        )
        client = browser()
        client.force_login(owner, backend="accounts.backends.ConsoleEmailBackend")
        # An unsolicited response does not prove anything: the test answers a request.
        unsolicited = post_acs(
            client, organization, idp.response(assertion_for(name_id=owner.username))
        )
        assert unsolicited.status_code == 403
        started = client.get("/sso/acme/login/", {"test": "saml"}, secure=True)
        assert started.status_code == 302
        request_id = _authn_request_id(started)

        answered = post_acs(
            client,
            organization,
            idp.response(assertion_for(name_id=owner.username, in_response_to=request_id)),
            relay_state="/console/sso/",
        )

        assert answered.status_code == 302
        saml.refresh_from_db()
        assert saml.proven_by_id == owner.pk
        sign_in_connection_switch(
            organization=organization, to="saml", actor=Actor.for_user(owner), acting_user=owner
        )
        saml.refresh_from_db()
        assert saml.enabled is True
        assert OidcConnection.objects.get().enabled is False


def _authn_request_id(response) -> str:
    query = parse_qs(urlsplit(response["Location"]).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
    return etree.fromstring(xml).get("ID")


def test_a_callback_costs_what_an_acs_sign_in_does(
    organization, connection, provider, member, django_assert_num_queries
):
    """Ten statements for a linked person (the ACS's count): the connection with its
    organization, the spent state, the organization's ceiling, the subject, the
    person's sign-in time, the audit event, the session's record, last_login, the
    session, the provider session's record; plus the sign-in's savepoint pair here."""
    assert sign_in(browser(), organization, provider).status_code == 302  # linked, cached
    client = browser()
    query = begin(client, organization, provider)

    with django_assert_num_queries(12):
        assert finish(client, organization, query["state"]).status_code == 302


@pytest.mark.parametrize(
    "jwks_uri", ["http://10.0.0.5/jwks", "http://169.254.169.254/latest/meta-data/"]
)
def test_a_discovery_document_that_later_names_an_unsafe_url_refuses_the_sign_in(
    jwks_uri, client, organization, connection, provider, member
):
    provider.discovery_overrides = {"jwks_uri": jwks_uri}

    response = client.get("/sso/acme/login/", secure=True)

    assert response.status_code == 400
    assert refusal_reasons(organization) == ["discovery_refused"]
    connection.refresh_from_db()
    assert connection.metadata["jwks_uri"] == f"{provider.issuer}/jwks"
    assert [path for _, path, _, _ in provider.requests if path == "/jwks"] == []


def test_a_discovery_document_that_changed_safely_is_followed(
    client, organization, connection, provider, member
):
    provider.discovery_overrides = {"authorization_endpoint": f"{provider.issuer}/v2/authorize"}

    response = client.get("/sso/acme/login/", secure=True)

    assert response.status_code == 302
    assert response["Location"].startswith(f"{provider.issuer}/v2/authorize?")
    connection.refresh_from_db()
    assert connection.metadata["authorization_endpoint"] == f"{provider.issuer}/v2/authorize"


def test_a_provider_whose_discovery_fails_gives_the_502_page(
    client, organization, connection, provider
):
    provider.status_for["/.well-known/openid-configuration"] = 503

    response = client.get("/sso/acme/login/", secure=True)

    assert response.status_code == 502
    assert b"Your identity provider did not answer" in response.content


def test_provider_initiated_sign_in_can_be_turned_off(client, organization, provider):
    configure(organization, provider, allow_idp_initiated=False)

    response = client.get("/sso/acme/login/", {"iss": provider.issuer}, secure=True)

    assert response.status_code == 400


def test_the_landing_page_says_the_sign_in_was_single_sign_on(
    organization, connection, provider, member
):
    client = browser()
    assert sign_in(client, organization, provider).status_code == 302

    page = client.get("/", secure=True)

    assert b"through your organization's single sign-on." in page.content


def test_an_admin_signed_in_through_oidc_keeps_the_console_when_sso_is_required(
    organization, connection, provider, make_user
):
    admin = make_user(organization, "it.admin@acme.example", role=Role.ADMIN)
    organization_set_sso_required(
        organization=organization, required=True, actor=Actor.system("tests")
    )
    provider.claims = {"preferred_username": admin.username, "sub": "00u-admin"}
    client = browser()
    assert sign_in(client, organization, provider).status_code == 302

    assert client.get("/console/", secure=True).status_code == 200
    assert signed_in_user_id(client) == str(admin.pk)


def _answer_with(provider, client, organization, body_for_nonce):
    query = begin(client, organization, provider)
    provider.token_answer = (200, body_for_nonce(query["nonce"]))
    return finish(client, organization, query["state"])


def test_hs256_signed_with_the_providers_public_key_is_refused(
    client, organization, connection, provider, member
):
    # The classic key-confusion forgery, made by hand: joserfc itself refuses to take a
    # public key as an HMAC secret.
    public_pem = provider.signing_key.as_pem(private=False)

    def encoded(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    def forged(nonce):
        header = {"alg": "HS256", "typ": "JWT", "kid": provider.signing_key.kid}
        signing_input = f"{encoded(header)}.{encoded(provider.id_token_claims(nonce))}"
        mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        signature = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
        return {"access_token": provider.ACCESS_TOKEN, "id_token": f"{signing_input}.{signature}"}

    assert _answer_with(provider, client, organization, forged).status_code == 400
    assert refusal_reasons(organization) == ["alg_not_allowed"]
    assert signed_in_user_id(client) is None


def test_an_oversized_id_token_is_refused(client, organization, connection, provider, member):
    def oversized(nonce):
        claims = provider.id_token_claims(nonce, padding="x" * 70_000)
        return {"access_token": provider.ACCESS_TOKEN, "id_token": provider.token(claims)}

    assert _answer_with(provider, client, organization, oversized).status_code == 400
    assert refusal_reasons(organization) == ["id_token_too_large"]


def test_a_deeply_nested_token_answer_is_refused(
    client, organization, connection, provider, member
):
    def nested(nonce):
        body = {"access_token": provider.ACCESS_TOKEN}
        deep = body
        for _ in range(40):
            deep["nested"] = {}
            deep = deep["nested"]
        return body

    assert _answer_with(provider, client, organization, nested).status_code == 400
    assert refusal_reasons(organization) == ["json_too_deep"]


def test_a_token_answer_over_a_mebibyte_is_refused(
    client, organization, connection, provider, member
):
    def huge(nonce):
        return {"access_token": provider.ACCESS_TOKEN, "filler": "x" * (1024 * 1024 + 1)}

    assert _answer_with(provider, client, organization, huge).status_code == 400
    assert refusal_reasons(organization) == ["response_too_large"]


def test_operators_see_the_connection_in_the_admin_without_its_secrets(
    client, organization, provider
):
    from accounts.services import operator_create

    connection = configure(organization, provider, client_auth_method="private_key_jwt")
    connection = configure(organization, provider, client_secret=provider.CLIENT_SECRET)
    operator = operator_create(username="ops", password="a-long-operator-password")
    client.force_login(operator, backend="accounts.backends.OperatorBackend")

    page = client.get(f"/admin/sso/oidcconnection/{connection.pk}/change/")

    assert page.status_code == 200
    assert connection.client_secret_encrypted.encode() not in page.content
    assert connection.signing_key_encrypted.encode() not in page.content
    assert provider.CLIENT_SECRET.encode() not in page.content
    assert client.post(f"/admin/sso/oidcconnection/{connection.pk}/change/").status_code == 403
