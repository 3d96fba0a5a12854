"""Every state change of the sso app: IdP configuration, SP keys, sign-ins.

Each service is one transaction and writes its audit event in it (sso.configured,
sso.login, sso.login_failed).
"""

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.errors import AccountsError
from accounts.models import AuditAction, Organization, Source, User
from accounts.services import audit_record, user_create
from sso import certificates as certs
from sso.errors import LoginRefused, MetadataError, SsoError
from sso.keystore import encrypt_private_key
from sso.metadata import fetch_idp_metadata, parse_idp_metadata
from sso.models import SamlAssertionUse, SamlIdentityProvider, SpKeyPair, SpKeyState
from sso.selectors import sp_keys_of, user_for_saml_subject
from sso.validation import TrustedAssertion

logger = logging.getLogger(__name__)

NAME_ID_FORMATS = (
    "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
)
BOOLEAN_FIELDS = ("sign_authn_requests", "allow_idp_initiated", "jit_provisioning", "enabled")
TEXT_FIELDS = ("email_attribute", "given_name_attribute", "family_name_attribute")
URL_FIELDS = ("sso_url", "slo_url")
IDP_FIELDS = (
    "entity_id",
    "certificates",
    "name_id_format",
    *URL_FIELDS,
    *TEXT_FIELDS,
    *BOOLEAN_FIELDS,
)
MAX_IDP_CERTIFICATES = 5
SSO_ACTOR = Actor.system("single sign-on")
NAMEID_TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"


def _clean_url(name: str, value, *, required: bool) -> str:
    value = (value or "").strip()
    if not value:
        if required:
            raise MetadataError(f"The IdP {name.replace('_', ' ').upper()} is required.")
        return ""
    parts = urlsplit(value)
    allowed = ("https", "http") if settings.DEBUG else ("https",)
    if parts.scheme not in allowed or not parts.netloc or len(value) > 1024:
        raise MetadataError(f"The IdP {name.replace('_', ' ').upper()} must be an https:// URL.")
    return value


def _clean_certificates(value) -> list[str]:
    if isinstance(value, str):
        value = [
            f"-----BEGIN CERTIFICATE-----{body}-----END CERTIFICATE-----"
            for body in certs._PEM_BODY.findall(value)
        ] or [value]
    now = timezone.now()
    cleaned = []
    for pem in value or []:
        pem = certs.clean_idp_certificate(pem, now=now)
        if pem not in cleaned:
            cleaned.append(pem)
    if not cleaned:
        raise MetadataError("At least one IdP signing certificate is required.")
    if len(cleaned) > MAX_IDP_CERTIFICATES:
        raise MetadataError(f"At most {MAX_IDP_CERTIFICATES} IdP certificates are kept.")
    return cleaned


def _clean_fields(fields: dict, *, creating: bool) -> dict:
    unknown = set(fields) - set(IDP_FIELDS)
    if unknown:
        raise TypeError(f"idp_configure() got unexpected fields: {sorted(unknown)}")
    cleaned = {}
    if creating or "entity_id" in fields:
        entity_id = (fields.get("entity_id") or "").strip()
        if not entity_id or len(entity_id) > 1024:
            raise MetadataError("The IdP entity ID is required (at most 1024 characters).")
        cleaned["entity_id"] = entity_id
    for name in URL_FIELDS:
        if creating or name in fields:
            cleaned[name] = _clean_url(name, fields.get(name), required=name == "sso_url")
    if creating or "certificates" in fields:
        cleaned["certificates"] = _clean_certificates(fields.get("certificates"))
    for name in TEXT_FIELDS:
        if name in fields:
            cleaned[name] = (fields[name] or "").strip()[:255]
    if "name_id_format" in fields:
        if fields["name_id_format"] not in NAME_ID_FORMATS:
            raise MetadataError(f"NameID format must be one of {', '.join(NAME_ID_FORMATS)}.")
        cleaned["name_id_format"] = fields["name_id_format"]
    for name in BOOLEAN_FIELDS:
        if name in fields:
            if not isinstance(fields[name], bool):
                raise MetadataError(f"{name} must be true or false.")
            cleaned[name] = fields[name]
    return cleaned


def _audit_value(name: str, value):
    if name == "certificates":
        return [certs.describe(pem).sha256_fingerprint for pem in value]
    return value


@transaction.atomic
def idp_configure(*, organization: Organization, actor: Actor, **fields) -> SamlIdentityProvider:
    """Create or change the organization's IdP; returns without writing when nothing changes."""
    idp = SamlIdentityProvider.objects.select_for_update().filter(organization=organization).first()
    creating = idp is None
    cleaned = _clean_fields(fields, creating=creating)
    if creating:
        idp = SamlIdentityProvider(organization=organization)
    changes = {
        name: {"from": _audit_value(name, getattr(idp, name)), "to": _audit_value(name, value)}
        for name, value in cleaned.items()
        if creating or getattr(idp, name) != value
    }
    if not changes:
        return idp
    for name, value in cleaned.items():
        setattr(idp, name, value)
    try:
        with transaction.atomic():
            idp.save()
    except IntegrityError:
        raise SsoError("The identity provider was changed at the same time; try again.") from None
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditAction.SSO_CONFIGURED,
        target_type="saml_idp",
        target_id=idp.pk,
        target_label=idp.entity_id,
        changes=changes,
    )
    return idp


def idp_configure_from_metadata(
    *, organization: Organization, actor: Actor, metadata_xml, **options
) -> SamlIdentityProvider:
    """Configure from IdP metadata XML; `options` set the fields metadata does not carry."""
    parsed = parse_idp_metadata(metadata_xml).as_fields()
    return idp_configure(organization=organization, actor=actor, **{**parsed, **options})


def idp_configure_from_url(
    *, organization: Organization, actor: Actor, url: str, **options
) -> SamlIdentityProvider:
    """Fetch the IdP's metadata (https, public address, size-capped) and configure from it."""
    metadata_xml = fetch_idp_metadata(url)
    return idp_configure_from_metadata(
        organization=organization, actor=actor, metadata_xml=metadata_xml, **options
    )


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
        target_label=certs.describe(key.certificate_pem).sha256_fingerprint,
        changes={"sp_key": event, "not_after": key.not_after.isoformat()},
    )


@transaction.atomic
def sp_keys_ensure(*, organization: Organization, actor: Actor = SSO_ACTOR) -> dict:
    """The organization's SP keys by state, generating the active pair on first use."""
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


@transaction.atomic
def assertion_consume(*, organization: Organization, assertion: TrustedAssertion) -> None:
    """Record the assertion id; a second use anywhere, on any instance, is a replay."""
    if not assertion.assertion_id:
        raise LoginRefused("no_assertion_id")
    try:
        with transaction.atomic():
            SamlAssertionUse.objects.create(
                organization=organization,
                assertion_id=assertion.assertion_id[:256],
                expires_at=assertion.expires_at,
            )
    except IntegrityError:
        raise LoginRefused("replayed") from None
    assertion_uses_purge()


def assertion_uses_purge() -> int:
    """Forget assertion ids that could not be accepted any more (past expiry + skew)."""
    deleted, _ = SamlAssertionUse.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted


def _subject(idp: SamlIdentityProvider, assertion: TrustedAssertion) -> str:
    if not idp.email_attribute:
        # A transient NameID is a fresh random value per sign-in (SAML Core §8.3.8): it
        # names nobody here, and with JIT on it would create a new user every time.
        if assertion.name_id_format == NAMEID_TRANSIENT:
            raise LoginRefused("transient_name_id")
        return assertion.name_id.strip()
    value = assertion.single_attribute(idp.email_attribute).strip()
    if not value:
        raise LoginRefused("missing_attribute", detail=idp.email_attribute)
    return value


def _jit_create(idp: SamlIdentityProvider, assertion: TrustedAssertion, subject: str) -> User:
    user = user_create(
        organization=idp.organization,
        username=subject,
        email=subject if "@" in subject else "",
        given_name=assertion.single_attribute(idp.given_name_attribute)[:150]
        if idp.given_name_attribute
        else "",
        family_name=assertion.single_attribute(idp.family_name_attribute)[:150]
        if idp.family_name_attribute
        else "",
        source=Source.SSO_JIT,
        actor=Actor.system("single sign-on (just-in-time)"),
    )
    logger.info("sso user created just in time", extra={"event": "sso.jit_created"})
    return user


@transaction.atomic
def sso_sign_in(
    *, idp: SamlIdentityProvider, assertion: TrustedAssertion, idp_initiated: bool
) -> User:
    """The user this validated assertion names, in the IdP's organization; audited.

    Groups or roles in the assertion are ignored: console roles are granted only in
    the console, never by an IdP.
    """
    subject = _subject(idp, assertion)
    matches = user_for_saml_subject(idp.organization, subject)
    if len(matches) > 1:
        raise LoginRefused("ambiguous_user", subject=subject)
    if not matches:
        if not idp.jit_provisioning:
            raise LoginRefused("unknown_user", subject=subject)
        try:
            user, created = _jit_create(idp, assertion, subject), True
        except AccountsError as exc:
            raise LoginRefused("jit_refused", subject=subject, detail=str(exc)) from None
    else:
        user, created = matches[0], False
    if not user.is_active:
        raise LoginRefused("user_deactivated", subject=subject)
    audit_record(
        organization=idp.organization,
        actor=Actor.for_user(user),
        action=AuditAction.SSO_LOGIN,
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        changes={"idp_initiated": idp_initiated, "created": created},
    )
    return user


@transaction.atomic
def sso_sign_in_failed(
    *, organization: Organization, reason: str, subject: str = "", detail: str = ""
) -> None:
    changes = {"reason": reason}
    if subject:
        changes["subject"] = subject[:255]
    if detail:
        changes["detail"] = detail[:300]
    audit_record(
        organization=organization,
        actor=SSO_ACTOR,
        action=AuditAction.SSO_LOGIN_FAILED,
        target_type="organization",
        target_id=organization.pk,
        target_label=organization.slug,
        changes=changes,
    )
