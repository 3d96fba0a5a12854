"""Provisioning tokens: hashed at rest, live/revoked/expired, rotation, throttles."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.keyed_secrets import SecretStatus
from accounts.models import AuditAction, AuditEvent
from provisioning.models import ProvisioningToken
from provisioning.selectors import last_scim_request, tokens_of
from provisioning.services import token_create, token_mark_used, token_revoke
from provisioning.tokens import PROVISIONING_TOKEN, ProvisioningTokenKind

pytestmark = pytest.mark.django_db

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def get_users(client, authorization=None):
    headers = {"Authorization": authorization} if authorization is not None else {}
    return client.get("/scim/v2/Users", headers=headers)


def assert_401(response):
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/scim+json")
    assert response["WWW-Authenticate"] == 'Bearer realm="scim"'
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == "401"
    assert body["detail"]


def test_secret_is_not_stored_in_any_column(organization, make_scim_token):
    token, secret = make_scim_token(organization)
    assert len(secret) >= 43 + len(token.prefix)  # 32 random bytes, URL-safe
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM provisioning_provisioningtoken WHERE id = %s", [token.pk])
        row = cursor.fetchone()
    columns = [str(value) for value in row]
    assert not any(secret in value for value in columns)
    assert secret.split(".", 1)[1] not in "".join(columns)
    assert (token.key_id, token.digest) == PROVISIONING_TOKEN.digest_of(secret)
    assert PROVISIONING_TOKEN.digest_of(secret)[1] != PROVISIONING_TOKEN.digest_of(secret + "x")[1]


def test_digest_is_keyed_by_the_current_hash_key(settings):
    secret = "abc.def"
    key_id, derived = PROVISIONING_TOKEN.digest_of(secret)
    settings.TOKEN_HASH_KEYS = [("k1", "k" * 50)]
    assert key_id == "secret-key"
    assert PROVISIONING_TOKEN.digest_of(secret)[0] == "k1"
    assert PROVISIONING_TOKEN.digest_of(secret)[1] != derived


def test_audit_trail_never_holds_the_secret(organization, make_scim_token):
    token, secret = make_scim_token(organization, label="Okta")
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_CREATED, target_id=str(token.pk))
    assert event.changes["prefix"] == token.prefix
    assert secret not in str(event.changes)


def test_bearer_token_authenticates(scim):
    assert scim.get("/Users").status_code == 200


def test_bare_token_header_authenticates(client, scim_secret):
    # Okta "HTTP Header" auth sends what the admin pasted, without "Bearer ".
    assert get_users(client, scim_secret).status_code == 200


def test_bearer_scheme_is_case_insensitive(client, scim_secret):
    assert get_users(client, f"bearer {scim_secret}").status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not-a-token", "a.b c"],
)
def test_missing_or_malformed_token_is_401(client, authorization):
    assert_401(get_users(client, authorization))


def test_unknown_token_with_a_real_prefix_is_401(client, scim_secret):
    prefix = scim_secret.split(".", 1)[0]
    assert_401(get_users(client, f"Bearer {prefix}.{'A' * 43}"))


def test_revoked_token_is_refused_on_the_next_request(
    client, organization, make_scim_token, system_actor
):
    token, secret = make_scim_token(organization)
    assert get_users(client, f"Bearer {secret}").status_code == 200
    token_revoke(token=token, actor=system_actor)
    response = get_users(client, f"Bearer {secret}")
    assert_401(response)
    assert "revoked" in response.json()["detail"]


def test_expired_token_is_401(client, organization, make_scim_token):
    token, secret = make_scim_token(organization, expires_at=timezone.now() + timedelta(days=1))
    ProvisioningToken.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = get_users(client, f"Bearer {secret}")
    assert_401(response)
    assert "expired" in response.json()["detail"]


def test_two_live_tokens_work_side_by_side(client, organization, make_scim_token, system_actor):
    old, old_secret = make_scim_token(organization, label="old")
    _, new_secret = make_scim_token(organization, label="new")
    assert get_users(client, f"Bearer {old_secret}").status_code == 200
    assert get_users(client, f"Bearer {new_secret}").status_code == 200
    token_revoke(token=old, actor=system_actor)
    assert get_users(client, f"Bearer {old_secret}").status_code == 401
    assert get_users(client, f"Bearer {new_secret}").status_code == 200


def test_status_and_is_live(organization, make_scim_token, system_actor):
    token, _ = make_scim_token(organization)
    assert (token.status, token.is_live) == (SecretStatus.ACTIVE, True)
    token.expires_at = timezone.now() - timedelta(minutes=1)
    assert (token.status, token.is_live) == (SecretStatus.EXPIRED, False)
    revoked = token_revoke(token=token, actor=system_actor)
    assert (revoked.status, revoked.is_live) == (SecretStatus.REVOKED, False)


def test_revoke_is_idempotent_and_audited_once(organization, make_scim_token, system_actor):
    token, _ = make_scim_token(organization)
    first = token_revoke(token=token, actor=system_actor)
    second = token_revoke(token=token, actor=system_actor)
    assert first.revoked_at == second.revoked_at
    assert (
        AuditEvent.objects.filter(action=AuditAction.TOKEN_REVOKED, target_id=str(token.pk)).count()
        == 1
    )


def test_create_refuses_a_past_expiry(organization, system_actor):
    from accounts.errors import InvalidValue

    with pytest.raises(InvalidValue):
        token_create(
            organization=organization,
            label="x",
            actor=system_actor,
            expires_at=timezone.now() - timedelta(days=1),
        )


def test_tokens_of_lists_newest_first(organization, other_organization, make_scim_token):
    first, _ = make_scim_token(organization, label="first")
    second, _ = make_scim_token(organization, label="second")
    make_scim_token(other_organization)
    assert list(tokens_of(organization)) == [second, first]


def test_last_used_is_written_at_most_once_a_minute(organization, make_scim_token):
    token, _ = make_scim_token(organization)
    now = timezone.now()
    token_mark_used(token=token, now=now)
    token.refresh_from_db()
    assert token.last_used_at == now
    token_mark_used(token=token, now=now + timedelta(seconds=30))
    token.refresh_from_db()
    assert token.last_used_at == now
    later = now + timedelta(seconds=61)
    token_mark_used(token=token, now=later)
    token.refresh_from_db()
    assert token.last_used_at == later


def test_requests_update_last_used_without_a_write_per_request(
    client, organization, make_scim_token
):
    token, secret = make_scim_token(organization)
    assert get_users(client, f"Bearer {secret}").status_code == 200
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None
    assert get_users(client, f"Bearer {secret}").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == first_use


def test_last_scim_request_is_the_newest_row_of_the_request_log(scim, organization):
    assert last_scim_request(organization) is None
    scim.get("/Groups")
    scim.get("/Users")
    record = last_scim_request(organization)
    assert record["method"] == "GET"
    assert record["path"] == "/scim/v2/Users"
    assert record["status"] == 200
    assert record["token_label"] == "Okta"
    assert record["token_prefix"] == scim.secret.split(".")[0]
    assert record["at"] <= timezone.now()


def test_repeated_failures_from_one_address_are_throttled(client, settings, scim_secret):
    settings.SCIM_AUTH_FAILURE_RATE = "3/5m"
    for _ in range(3):
        assert get_users(client, "Bearer nope.nope").status_code == 401
    response = get_users(client, "Bearer nope.nope")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.json()["status"] == "429"
    # Identity providers share egress addresses across customers: a valid token
    # from the same address keeps working.
    assert get_users(client, f"Bearer {scim_secret}").status_code == 200


def test_failures_from_another_address_are_counted_separately(settings):
    settings.SCIM_AUTH_FAILURE_RATE = "1/5m"
    first, second = Client(REMOTE_ADDR="10.0.0.1"), Client(REMOTE_ADDR="10.0.0.2")
    assert get_users(first, "Bearer x.y").status_code == 401
    assert get_users(first, "Bearer x.y").status_code == 429
    assert get_users(second, "Bearer x.y").status_code == 401


def test_token_over_its_request_rate_gets_429(client, settings, organization, make_scim_token):
    settings.SCIM_TOKEN_RATE = "2/1m"
    _, secret = make_scim_token(organization)
    _, other_secret = make_scim_token(organization)
    assert get_users(client, f"Bearer {secret}").status_code == 200
    assert get_users(client, f"Bearer {secret}").status_code == 200
    response = get_users(client, f"Bearer {secret}")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert get_users(client, f"Bearer {other_secret}").status_code == 200


def test_console_session_grants_nothing_inside_scim(owner_client):
    assert_401(owner_client.get("/scim/v2/Users"))


def test_token_grants_nothing_outside_scim(client, scim_secret):
    response = client.get("/console/", headers={"Authorization": f"Bearer {scim_secret}"})
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/")


def test_management_command_prints_the_secret_alone_on_the_last_line(organization, client):
    out = StringIO()
    call_command(
        "create_provisioning_token",
        organization.slug,
        "--label",
        "Okta",
        "--expires-in-days",
        "30",
        stdout=out,
    )
    secret = out.getvalue().strip().splitlines()[-1]
    assert " " not in secret
    token = ProvisioningToken.objects.get(organization=organization)
    assert secret.startswith(token.prefix + ".")
    assert token.label == "Okta"
    assert token.expires_at > timezone.now() + timedelta(days=29)
    assert get_users(client, f"Bearer {secret}").status_code == 200


def test_management_command_refuses_an_unknown_organization(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_provisioning_token", "no-such-org", stdout=StringIO())


def test_operators_can_list_and_revoke_tokens_in_the_admin(client, organization, make_scim_token):
    from accounts.services import operator_create

    token, secret = make_scim_token(organization, label="Okta")
    operator = operator_create(
        username="ops", email="ops@example.com", password="a-long-operator-pw-1"
    )
    client.force_login(operator, backend="accounts.backends.OperatorBackend")
    listing = client.get("/admin/provisioning/provisioningtoken/")
    assert listing.status_code == 200
    assert token.prefix.encode() in listing.content
    assert secret.encode() not in listing.content
    response = client.post(
        "/admin/provisioning/provisioningtoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.status == SecretStatus.REVOKED
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_REVOKED)
    assert event.actor_id == str(operator.pk)


def test_a_clashing_prefix_is_drawn_again(organization, make_scim_token, monkeypatch):
    existing, _ = make_scim_token(organization)
    draws = iter([(existing.prefix, f"{existing.prefix}.clash"), ("fresh123", "fresh123.secret")])
    monkeypatch.setattr(ProvisioningTokenKind, "new_secret", lambda kind: next(draws))
    token, secret = make_scim_token(organization)
    assert (token.prefix, secret) == ("fresh123", "fresh123.secret")


def _columns(instance) -> dict:
    return {
        field.attname: getattr(instance, field.attname)
        for field in type(instance)._meta.concrete_fields
    }


@pytest.mark.parametrize("with_endpoint", [False, True])
def test_the_token_lookup_loads_what_the_orm_loads_in_one_statement(
    organization, make_scim_token, system_actor, settings, with_endpoint
):
    from accounts.events.models import WebhookEndpoint
    from accounts.services.integrations import webhook_endpoint_create
    from provisioning.selectors import token_for_secret

    token, secret = make_scim_token(organization)
    if with_endpoint:
        settings.WEBHOOK_ALLOW_LOOPBACK = True  # no name to resolve
        webhook_endpoint_create(
            organization=organization, url="http://127.0.0.1:9/roster", actor=system_actor
        )
    expected = ProvisioningToken.objects.select_related("organization").get(pk=token.pk)
    endpoints = WebhookEndpoint.objects.filter(organization=organization, enabled=True)

    with CaptureQueriesContext(connection) as context:
        found = token_for_secret(secret)
        organization_loaded = found.organization
    assert len(context.captured_queries) == 1
    assert _columns(found) == _columns(expected)
    assert _columns(organization_loaded) == _columns(expected.organization)
    assert found.webhooks is endpoints.exists() is with_endpoint
    assert not found._state.adding and not organization_loaded._state.adding


@pytest.mark.parametrize(
    ("secret", "prefix"),
    [
        ("abc.def", "abc"),
        ("a.b", "a"),
        ("p" * 16 + ".rest.with.dots", "p" * 16),
        ("rk_abcde.short", "rk_abcde"),
    ],
)
def test_tokens_are_read_as_they_always_were(secret, prefix):
    assert PROVISIONING_TOKEN.prefix_of(secret) == prefix


@pytest.mark.parametrize(
    "secret", ["abc", "abc.", ".abc", "p" * 17 + ".x", "a b.c", "rk_abcdefgh." + "s" * 43]
)
def test_what_no_token_looks_like_has_no_prefix(secret):
    assert PROVISIONING_TOKEN.prefix_of(secret) is None


def test_a_prefix_no_token_has_finds_nothing(organization, make_scim_token):
    from provisioning.selectors import token_for_secret

    make_scim_token(organization)
    _, unknown = PROVISIONING_TOKEN.new_secret()
    assert token_for_secret(unknown) is None


def test_the_default_token_rate_admits_a_minute_of_entras_25_requests_a_second(settings):
    # Microsoft requires a SCIM endpoint to sustain 25 requests/s per tenant.
    from config import ratelimit
    from config.settings import SCIM_TOKEN_RATE as DEFAULT_RATE
    from provisioning.gate import token_rate

    settings.SCIM_TOKEN_RATE = DEFAULT_RATE
    rate = token_rate()
    assert rate.limit / rate.window >= 2 * 25  # headroom over Entra's floor
    verdicts = [ratelimit.hit("scim-token", "entra-token", rate) for _ in range(25 * 60)]
    assert all(verdict.allowed for verdict in verdicts)
