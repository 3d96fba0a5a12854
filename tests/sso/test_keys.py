"""The SP key pair: made when single sign-on is set up, encrypted at rest, rolled over."""

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command
from lxml import etree

from accounts.models import AuditAction, AuditEvent
from sso.errors import SsoError
from sso.keystore import decrypt_private_key
from sso.models import SpKeyPair, SpKeyState
from sso.services import sp_key_activate_next, sp_key_stage_next, sp_keys_ensure
from sso.sp import sp_certificate_pem

pytestmark = pytest.mark.django_db
DS = "http://www.w3.org/2000/09/xmldsig#"


def _certificates_in_metadata(client):
    root = etree.fromstring(client.get("/sso/acme/metadata/").content)
    return ["".join(e.text.split()) for e in root.iter(f"{{{DS}}}X509Certificate")]


def _body(pem):
    return "".join(pem.strip().splitlines()[1:-1])


def test_no_sp_key_exists_until_a_service_makes_one(client, organization):
    assert sp_certificate_pem(organization) is None
    assert client.get("/sso/acme/metadata/").status_code == 404
    assert not SpKeyPair.objects.filter(organization=organization).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.SSO_CONFIGURED).exists()


def test_sp_key_is_generated_once(organization, system_actor):
    sp_keys_ensure(organization=organization, actor=system_actor)
    sp_keys_ensure(organization=organization, actor=system_actor)
    first = sp_certificate_pem(organization)
    assert SpKeyPair.objects.filter(organization=organization).count() == 1

    certificate = x509.load_pem_x509_certificate(first.encode())
    assert isinstance(certificate.public_key(), rsa.RSAPublicKey)
    assert certificate.public_key().key_size >= 2048
    assert certificate.signature_hash_algorithm.name == "sha256"
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert dt.timedelta(days=729) < lifetime < dt.timedelta(days=732)
    assert certificate.issuer == certificate.subject


def test_sp_private_key_is_encrypted_at_rest(organization, system_actor):
    key = sp_keys_ensure(organization=organization, actor=system_actor)[SpKeyState.ACTIVE]
    stored = SpKeyPair.objects.get(pk=key.pk).private_key_encrypted

    assert "PRIVATE KEY" not in stored
    assert decrypt_private_key(stored).startswith(b"-----BEGIN PRIVATE KEY-----")


def test_dedicated_encryption_key_is_used_when_set(organization, system_actor, settings):
    from cryptography.fernet import Fernet

    settings.SSO_KEY_ENCRYPTION_KEY = Fernet.generate_key().decode()
    key = sp_keys_ensure(organization=organization, actor=system_actor)[SpKeyState.ACTIVE]
    token = key.private_key_encrypted.encode()

    assert Fernet(settings.SSO_KEY_ENCRYPTION_KEY.encode()).decrypt(token).startswith(b"-----BEGIN")


def test_rotated_secret_key_still_decrypts_through_fallbacks(organization, system_actor, settings):
    key = sp_keys_ensure(organization=organization, actor=system_actor)[SpKeyState.ACTIVE]
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-after-rotation-0123456789abcdefghijklmnop"

    assert decrypt_private_key(key.private_key_encrypted).startswith(b"-----BEGIN")


def test_rollover_publishes_the_next_certificate_before_switching(
    client, organization, system_actor
):
    sp_keys_ensure(organization=organization, actor=system_actor)
    current = sp_certificate_pem(organization)
    call_command("rotate_saml_sp_key", "acme", "--stage", stdout=None)
    upcoming = SpKeyPair.objects.get(organization=organization, state=SpKeyState.NEXT)

    assert sp_certificate_pem(organization) == current
    published = _certificates_in_metadata(client)
    assert _body(current) in published
    assert _body(upcoming.certificate_pem) in published

    call_command("rotate_saml_sp_key", "acme", "--activate", stdout=None)

    assert sp_certificate_pem(organization) == upcoming.certificate_pem
    assert _certificates_in_metadata(client) == [_body(upcoming.certificate_pem)]
    events = AuditEvent.objects.filter(
        organization=organization, action=AuditAction.SSO_CONFIGURED, target_type="saml_sp_key"
    )
    assert sorted(e.changes["sp_key"] for e in events) == ["activated", "generated", "next staged"]


def test_staging_twice_keeps_one_next_key(organization, system_actor):
    first = sp_key_stage_next(organization=organization, actor=system_actor)
    assert sp_key_stage_next(organization=organization, actor=system_actor) == first


def test_activating_without_a_staged_key_is_refused(organization, system_actor):
    with pytest.raises(SsoError, match="stage one first"):
        sp_key_activate_next(organization=organization, actor=system_actor)


def test_operators_see_sp_keys_in_the_admin_without_the_private_key(
    client, organization, system_actor
):
    from accounts.services import operator_create

    sp_keys_ensure(organization=organization, actor=system_actor)
    operator = operator_create(username="ops", password="a-long-operator-password")
    client.force_login(operator, backend="accounts.backends.OperatorBackend")
    key = SpKeyPair.objects.get(organization=organization)

    page = client.get(f"/admin/sso/spkeypair/{key.pk}/change/")

    assert page.status_code == 200
    assert key.private_key_encrypted.encode() not in page.content
    assert client.get("/admin/sso/samlidentityprovider/").status_code == 200


def test_a_decrypted_sp_key_is_reused_until_the_stored_key_changes(
    organization, system_actor, monkeypatch
):
    from sso import sp

    calls = []

    def counting(token):
        calls.append(token)
        return decrypt_private_key(token)

    monkeypatch.setattr(sp, "decrypt_private_key", counting)
    monkeypatch.setattr(sp, "_DECRYPTED_KEYS", {})
    key = sp_keys_ensure(organization=organization, actor=system_actor)[SpKeyState.ACTIVE]
    first = sp.sp_private_key_pem(key)
    assert sp.sp_private_key_pem(key) == first
    assert len(calls) == 1
    # Re-encrypted (a new ciphertext for the same id): decrypted again.
    from sso.keystore import encrypt_private_key

    key.private_key_encrypted = encrypt_private_key(first.encode())
    assert sp.sp_private_key_pem(key) == first
    assert len(calls) == 2
