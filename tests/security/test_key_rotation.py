"""Rotating SECRET_KEY and the token hash keys keeps every credential working until retired."""

import hashlib
import hmac
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.derived_keys import derive_key
from accounts.events.models import API_KEY, WebhookSecret
from accounts.events.webhooks import signing
from accounts.services.integrations import api_key_create, webhook_endpoint_create
from console import secret_handoff
from provisioning.models import ProvisioningToken
from provisioning.services import token_revoke
from provisioning.tokens import LEGACY_KEY_ID, PROVISIONING_TOKEN
from sso import keystore, sp
from sso.models import SpKeyPair
from tests.sso.conftest import post_acs, signed_in_user_id, start_login
from transfer.models import APP_PASSWORD, TRANSFER_KEY
from transfer.views import NEW_APP_PASSWORD

pytestmark = pytest.mark.django_db

OLD_SECRET_KEY = "the-secret-key-before-rotation-0123456789abcdefghijklmnopqrstuvwxyz"
NEW_SECRET_KEY = "the-secret-key-after-rotation-0123456789abcdefghijklmnopqrstuvwxyz"
HASH_KEY_1 = "hash-key-one-" + "1" * 50
HASH_KEY_2 = "hash-key-two-" + "2" * 50


@pytest.fixture
def old_secret_key(settings):
    settings.SECRET_KEY = OLD_SECRET_KEY
    settings.SECRET_KEY_FALLBACKS = []


def rotate_secret_key(settings, *, keep_fallback: bool):
    settings.SECRET_KEY = NEW_SECRET_KEY
    settings.SECRET_KEY_FALLBACKS = [OLD_SECRET_KEY] if keep_fallback else []


def scim_status(secret: str) -> int:
    return Client().get("/scim/v2/Users", headers={"Authorization": f"Bearer {secret}"}).status_code


def api_status(secret: str) -> int:
    return Client().get("/api/v1/events", headers={"Authorization": f"Bearer {secret}"}).status_code


@pytest.fixture
def make_api_key(system_actor):
    def make(organization, label="File service"):
        return api_key_create(organization=organization, label=label, actor=system_actor)

    return make


def test_secret_key_rotation_with_fallbacks_keeps_every_secret_usable(
    old_secret_key,
    settings,
    client,
    organization,
    system_actor,
    make_scim_token,
    make_api_key,
    saml_idp,
    idp,
    make_user,
    assertion_for,
):
    _, scim_secret = make_scim_token(organization)
    _, api_secret = make_api_key(organization)
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    endpoint, webhook_secret = webhook_endpoint_create(
        organization=organization, url="http://127.0.0.1:9/hook", actor=system_actor
    )
    member = make_user(organization, "jane.doe@acme.example")
    assert SpKeyPair.objects.filter(organization=organization).exists()

    rotate_secret_key(settings, keep_fallback=True)
    sp._DECRYPTED_KEYS.clear()

    assert scim_status(scim_secret) == 200
    assert api_status(api_secret) == 200
    stored = WebhookSecret.objects.get(endpoint=endpoint).encrypted
    assert signing.decrypt_secret(stored) == webhook_secret
    _, request, _ = start_login(client, organization, next_path="/")
    response = post_acs(
        client, organization, idp.response(assertion_for(in_response_to=request.get("ID")))
    )
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(member.pk)


def test_secret_key_rotation_without_fallbacks_breaks_derived_token_digests(
    old_secret_key, settings, organization, make_scim_token, make_api_key
):
    _, scim_secret = make_scim_token(organization)
    _, api_secret = make_api_key(organization)

    rotate_secret_key(settings, keep_fallback=False)

    assert scim_status(scim_secret) == 401
    assert api_status(api_secret) == 401


def test_dedicated_hash_keys_survive_a_secret_key_rotation_without_fallbacks(
    old_secret_key, settings, organization, make_scim_token, make_api_key
):
    settings.TOKEN_HASH_KEYS = [("k1", HASH_KEY_1)]
    _, scim_secret = make_scim_token(organization)
    _, api_secret = make_api_key(organization)

    rotate_secret_key(settings, keep_fallback=False)

    assert scim_status(scim_secret) == 200
    assert api_status(api_secret) == 200


def test_new_digests_are_stored_with_the_current_key_id(
    settings, organization, make_scim_token, make_api_key
):
    settings.TOKEN_HASH_KEYS = [("k2", HASH_KEY_2), ("k1", HASH_KEY_1)]
    token, scim_secret = make_scim_token(organization)
    api_key, api_secret = make_api_key(organization)

    assert (token.key_id, api_key.key_id) == ("k2", "k2")
    assert (
        token.digest
        == hmac.new(
            derive_key(PROVISIONING_TOKEN.purpose, secret=HASH_KEY_2),
            scim_secret.encode(),
            hashlib.sha256,
        ).hexdigest()
    )
    assert (
        api_key.digest
        == hmac.new(
            derive_key(API_KEY.purpose, secret=HASH_KEY_2), api_secret.encode(), hashlib.sha256
        ).hexdigest()
    )


def test_without_hash_keys_digests_are_made_under_the_secret_key(organization, make_scim_token):
    token, _ = make_scim_token(organization)
    assert token.key_id == "secret-key"


def test_adding_a_hash_key_keeps_tokens_made_with_the_previous_one(
    settings, organization, make_scim_token, make_api_key
):
    settings.TOKEN_HASH_KEYS = [("k1", HASH_KEY_1)]
    _, scim_secret = make_scim_token(organization)
    _, api_secret = make_api_key(organization)

    settings.TOKEN_HASH_KEYS = [("k2", HASH_KEY_2), ("k1", HASH_KEY_1)]

    assert scim_status(scim_secret) == 200
    assert api_status(api_secret) == 200


def test_moving_from_the_secret_key_to_a_dedicated_key_keeps_existing_tokens(
    settings, organization, make_scim_token, make_api_key
):
    _, scim_secret = make_scim_token(organization)
    _, api_secret = make_api_key(organization)

    settings.TOKEN_HASH_KEYS = [("k1", HASH_KEY_1), ("secret-key", None)]

    assert scim_status(scim_secret) == 200
    assert api_status(api_secret) == 200


def test_retiring_the_hash_key_a_token_was_made_with_refuses_it(
    settings, organization, make_scim_token, make_api_key
):
    settings.TOKEN_HASH_KEYS = [("k1", HASH_KEY_1)]
    _, scim_secret = make_scim_token(organization)
    _, api_secret = make_api_key(organization)

    settings.TOKEN_HASH_KEYS = [("k2", HASH_KEY_2)]

    assert scim_status(scim_secret) == 401
    assert api_status(api_secret) == 401


def test_a_digest_is_checked_only_under_the_key_it_names(settings, organization, make_scim_token):
    # The same secret under another configured key is no match: the stored id decides.
    settings.TOKEN_HASH_KEYS = [("k1", HASH_KEY_1), ("k2", HASH_KEY_2)]
    token, secret = make_scim_token(organization)
    ProvisioningToken.objects.filter(pk=token.pk).update(key_id="k2")

    assert scim_status(secret) == 401


@pytest.mark.parametrize("dedicated_key", ["", "a-scim-token-hash-key-of-before"])
def test_digests_from_before_key_ids_verify_the_old_way_and_through_fallbacks(
    settings, organization, make_scim_token, dedicated_key
):
    # What the digest was before key ids: SCIM_TOKEN_HASH_KEY as is when set, otherwise
    # a SHA-256 of SECRET_KEY (test_key_id_migrations.py runs the migration itself).
    settings.SCIM_TOKEN_HASH_KEY = dedicated_key
    token, secret = make_scim_token(organization)
    old_key = (
        dedicated_key.encode()
        or hashlib.sha256(
            b"roster.provisioning-token-digest:" + settings.SECRET_KEY.encode()
        ).digest()
    )
    ProvisioningToken.objects.filter(pk=token.pk).update(
        digest=hmac.new(old_key, secret.encode(), hashlib.sha256).hexdigest(),
        key_id=LEGACY_KEY_ID,
    )

    assert scim_status(secret) == 200
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = NEW_SECRET_KEY
    assert scim_status(secret) == 200


def test_a_secret_handed_off_before_a_rotation_is_still_shown(old_secret_key, settings):
    session = {}
    secret_handoff.hand_off(session, token_id=7, secret="abc.def")

    rotate_secret_key(settings, keep_fallback=True)

    assert secret_handoff.take(session, token_id=7) == "abc.def"


def test_every_derived_key_has_a_purpose_of_its_own():
    purposes = [
        PROVISIONING_TOKEN.purpose,
        API_KEY.purpose,
        signing.PURPOSE,
        keystore.PURPOSE,
        secret_handoff.PURPOSE,
        TRANSFER_KEY.purpose,
        APP_PASSWORD.purpose,
        NEW_APP_PASSWORD.purpose,
    ]
    assert len(set(purposes)) == len(purposes)


def test_key_usage_counts_live_credentials_per_hash_key(
    settings, organization, make_scim_token, make_api_key, system_actor
):
    settings.TOKEN_HASH_KEYS = [("k1", HASH_KEY_1)]
    make_scim_token(organization)
    revoked, _ = make_scim_token(organization)
    token_revoke(token=revoked, actor=system_actor)
    make_api_key(organization)
    settings.TOKEN_HASH_KEYS = [("k2", HASH_KEY_2), ("secret-key", None)]
    make_scim_token(organization)
    out = StringIO()

    call_command("token_hash_key_usage", stdout=out)

    lines = [line.split(None, 3) for line in out.getvalue().splitlines()[1:]]
    assert lines == [
        ["k2", "1", "0", "current"],
        ["secret-key", "0", "0", "verifies"],
        ["k1", "1", "1", "not configured: refused"],
    ]
