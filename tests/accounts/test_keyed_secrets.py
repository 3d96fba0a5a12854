"""The shared base of keyed secrets: parsing per kind, digests under rotating hash keys,
status, lookup and last-use marking."""

from datetime import timedelta
from itertools import permutations

import pytest
from django.utils import timezone

from accounts.events.models import API_KEY, ApiKey
from accounts.keyed_secrets import (
    SecretKind,
    SecretStatus,
    credential_mark_used,
    row_for_secret,
)
from accounts.services.integrations import api_key_create, api_key_revoke
from provisioning.tokens import PROVISIONING_TOKEN

HASH_KEY_1 = "hash-key-one-" + "1" * 50
HASH_KEY_2 = "hash-key-two-" + "2" * 50
# Heads of kinds to come (transfer keys, app passwords) next to the two there are.
KINDS = [
    PROVISIONING_TOKEN,
    API_KEY,
    SecretKind(head="rtk_", purpose="tests.transfer-key"),
    SecretKind(head="rap_", purpose="tests.app-password"),
]


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.head or "token")
def test_a_kind_reads_the_prefix_of_its_own_secrets(kind):
    prefix, secret = kind.new_secret()
    assert secret.startswith(kind.head + prefix + ".")
    assert len(prefix) == 8
    assert kind.prefix_of(secret) == prefix


def test_prefixes_are_letters_and_digits_so_a_command_can_take_one():
    """A prefix starting with "-" read as an option: `revoke_credential acme bob -x1..`
    failed with "the following arguments are required: credential"."""
    prefixes = [API_KEY.new_secret()[0] for _ in range(2000)]

    assert all(prefix.isascii() and prefix.isalnum() for prefix in prefixes)


@pytest.mark.parametrize(
    ("issuer", "reader"),
    list(permutations(KINDS, 2)),
    ids=lambda kind: kind.head or "token",
)
def test_a_kinds_secret_is_never_parsed_by_another_kind(issuer, reader):
    for _ in range(50):
        _, secret = issuer.new_secret()
        assert reader.prefix_of(secret) is None, (secret, reader.head)


@pytest.mark.parametrize(
    "secret",
    [None, 42, "", "rk_", "rk_abcdefgh", "rk_abcdefgh.", "rk_abcdefg.xxxxxxxxxxxxxxxxxxxxxxxx"],
)
def test_anything_else_has_no_prefix(secret):
    assert API_KEY.prefix_of(secret) is None


def test_a_head_is_lowercase_letters_and_an_underscore():
    with pytest.raises(ValueError, match="head"):
        SecretKind(head="RK-", purpose="tests.bad-head")


def test_kinds_digest_the_same_secret_apart():
    secret = "rk_abcdefgh." + "s" * 43
    assert API_KEY.digest_of(secret) != SecretKind("rk_", "tests.other-purpose").digest_of(secret)


def test_a_digest_verifies_under_a_rotated_hash_key(settings):
    _, secret = API_KEY.new_secret()
    settings.TOKEN_HASH_KEYS = [("k1", HASH_KEY_1)]
    key_id, digest = API_KEY.digest_of(secret)

    settings.TOKEN_HASH_KEYS = [("k2", HASH_KEY_2), ("k1", HASH_KEY_1)]

    assert key_id == "k1"
    assert API_KEY.digest_of(secret)[0] == "k2"
    assert API_KEY.matches(secret, digest=digest, key_id="k1")
    assert not API_KEY.matches(secret, digest=digest, key_id="k2")
    assert not API_KEY.matches(secret + "x", digest=digest, key_id="k1")


def test_a_retired_key_id_refuses(settings):
    _, secret = API_KEY.new_secret()
    settings.TOKEN_HASH_KEYS = [("k1", HASH_KEY_1)]
    key_id, digest = API_KEY.digest_of(secret)

    settings.TOKEN_HASH_KEYS = [("k2", HASH_KEY_2)]

    assert not API_KEY.matches(secret, digest=digest, key_id=key_id)


def test_status_of_active_expired_and_revoked():
    now = timezone.now()
    key = ApiKey()
    assert (key.status, key.is_live) == (SecretStatus.ACTIVE, True)
    key.expires_at = now + timedelta(minutes=1)
    assert (key.status, key.is_live) == (SecretStatus.ACTIVE, True)
    key.expires_at = now - timedelta(seconds=1)
    assert (key.status, key.is_live) == (SecretStatus.EXPIRED, False)
    key.revoked_at = now
    assert (key.status, key.is_live) == (SecretStatus.REVOKED, False)


@pytest.mark.django_db
def test_live_rows_are_the_rows_whose_status_is_active(organization, system_actor):
    active, _ = api_key_create(organization=organization, label="active", actor=system_actor)
    expired, _ = api_key_create(organization=organization, label="expired", actor=system_actor)
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    revoked, _ = api_key_create(organization=organization, label="revoked", actor=system_actor)
    api_key_revoke(key=revoked, actor=system_actor)

    assert list(ApiKey.objects.live()) == [active]
    assert [key.is_live for key in ApiKey.objects.order_by("id")] == [True, False, False]


@pytest.mark.django_db
def test_a_row_is_found_by_its_secret_and_by_nothing_else(organization, system_actor):
    key, secret = api_key_create(organization=organization, label="File", actor=system_actor)

    def by_prefix(prefix):
        return ApiKey.objects.filter(prefix=prefix).first()

    assert row_for_secret(API_KEY, secret, by_prefix=by_prefix) == key
    forged = secret[: secret.index(".") + 1] + "x" * 43
    assert row_for_secret(API_KEY, forged, by_prefix=by_prefix) is None
    assert row_for_secret(PROVISIONING_TOKEN, secret, by_prefix=by_prefix) is None
    assert row_for_secret(API_KEY, API_KEY.new_secret()[1], by_prefix=by_prefix) is None


@pytest.mark.django_db
def test_a_clashing_prefix_is_drawn_again(organization, system_actor, monkeypatch):
    existing, _ = api_key_create(organization=organization, label="File", actor=system_actor)
    kind = SecretKind(head="rk_", purpose=API_KEY.purpose)
    draws = iter([(existing.prefix, "clash"), ("fresh123", "rk_fresh123.secret")])
    monkeypatch.setattr(SecretKind, "new_secret", lambda kind: next(draws))

    key = ApiKey(organization=organization, label="Other")
    secret = key.set_secret(kind)

    assert (key.prefix, secret) == ("fresh123", "rk_fresh123.secret")
    assert key.holds(kind, secret)


@pytest.mark.django_db
def test_use_is_written_at_most_once_a_minute(organization, system_actor):
    key, _ = api_key_create(organization=organization, label="File", actor=system_actor)
    now = timezone.now()

    credential_mark_used(key, now=now)
    credential_mark_used(key, now=now + timedelta(seconds=59))
    key.refresh_from_db()
    assert key.last_used_at == now

    # Another process holding an older copy of the row writes nothing either.
    stale_copy = ApiKey.objects.get(pk=key.pk)
    stale_copy.last_used_at = None
    credential_mark_used(stale_copy, now=now + timedelta(seconds=30))
    key.refresh_from_db()
    assert key.last_used_at == now

    later = now + timedelta(seconds=61)
    credential_mark_used(key, now=later)
    key.refresh_from_db()
    assert key.last_used_at == later
