"""The SP signing key pairs: made when single sign-on is set up, rolled over in two steps.

Every function here writes; none runs on a GET. Pages and SAML endpoints read the keys
with sso.selectors.sp_keys_of.
"""

from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.models import AuditAction, Organization
from accounts.services import audit_record
from sso import certificates as certs
from sso.errors import SsoError
from sso.keystore import encrypt_private_key
from sso.models import SpKeyPair, SpKeyState
from sso.selectors import sp_keys_of

SSO_ACTOR = Actor.system("single sign-on")


def _new_key_pair(organization: Organization, state: str) -> SpKeyPair:
    private_pem, certificate_pem, not_after = certs.generate_sp_key_pair(
        common_name=f"Roster SP {organization.slug}", now=timezone.now()
    )
    return SpKeyPair.objects.create(
        organization=organization,
        state=state,
        certificate_pem=certificate_pem,
        private_key_encrypted=encrypt_private_key(private_pem),
        not_after=not_after,
    )


def _audit_sp_key(organization: Organization, actor: Actor, key: SpKeyPair, event: str) -> None:
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditAction.SSO_CONFIGURED,
        target_type="saml_sp_key",
        target_id=key.pk,
        target_label=f"SP certificate, expires {key.not_after:%Y-%m-%d}",
        changes={
            "sp_key": event,
            "not_after": key.not_after.isoformat(),
            "sha256_fingerprint": certs.describe(key.certificate_pem).sha256_fingerprint,
        },
    )


@transaction.atomic
def sp_keys_ensure(*, organization: Organization, actor: Actor) -> dict:
    """The organization's SP keys by state, generating the active pair if there is none."""
    keys = sp_keys_of(organization)
    if SpKeyState.ACTIVE in keys:
        return keys
    # The organization row serializes first use, so two requests make one key pair.
    Organization.objects.select_for_update().get(pk=organization.pk)
    keys = sp_keys_of(organization)
    if SpKeyState.ACTIVE not in keys:
        keys[SpKeyState.ACTIVE] = _new_key_pair(organization, SpKeyState.ACTIVE)
        _audit_sp_key(organization, actor, keys[SpKeyState.ACTIVE], "generated")
    return keys


@transaction.atomic
def sp_key_stage_next(*, organization: Organization, actor: Actor) -> SpKeyPair:
    """Publish a next SP certificate in metadata; it signs nothing until activated."""
    sp_keys_ensure(organization=organization, actor=actor)
    Organization.objects.select_for_update().get(pk=organization.pk)
    keys = sp_keys_of(organization)
    if SpKeyState.NEXT in keys:
        return keys[SpKeyState.NEXT]
    upcoming = _new_key_pair(organization, SpKeyState.NEXT)
    _audit_sp_key(organization, actor, upcoming, "next staged")
    return upcoming


@transaction.atomic
def sp_key_activate_next(*, organization: Organization, actor: Actor) -> SpKeyPair:
    """Switch signing to the staged certificate (after the IdP has picked it up)."""
    Organization.objects.select_for_update().get(pk=organization.pk)
    keys = sp_keys_of(organization)
    if SpKeyState.NEXT not in keys:
        raise SsoError("There is no next SP certificate to activate; stage one first.")
    if SpKeyState.ACTIVE in keys:
        keys[SpKeyState.ACTIVE].state = SpKeyState.RETIRED
        keys[SpKeyState.ACTIVE].save(update_fields=["state"])
    upcoming = keys[SpKeyState.NEXT]
    upcoming.state = SpKeyState.ACTIVE
    upcoming.save(update_fields=["state"])
    _audit_sp_key(organization, actor, upcoming, "activated")
    return upcoming
