"""Configuring an organization's identity provider: field by field, from metadata or its URL."""

from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.models import AuditAction, Organization, User
from accounts.services import audit_record, organization_set_sso_required
from accounts.services.privileges import check_may_configure_sso
from sso import certificates as certs
from sso.errors import MetadataError, SsoError
from sso.metadata import fetch_idp_metadata, parse_idp_metadata
from sso.models import OidcConnection, SamlIdentityProvider
from sso.services.keys import sp_keys_ensure

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
        value = certs.split_pem_bundle(value)
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


def _oidc_is_active(organization: Organization) -> bool:
    return OidcConnection.objects.filter(organization=organization, enabled=True).exists()


@transaction.atomic
def idp_configure(
    *, organization: Organization, actor: Actor, acting_user: User | None = None, **fields
) -> SamlIdentityProvider:
    """Create or change the organization's IdP; returns without writing when nothing changes.

    Only owners change it (`acting_user`); commands and the system pass none.
    """
    check_may_configure_sso(acting_user, actor, organization)
    idp = SamlIdentityProvider.objects.select_for_update().filter(organization=organization).first()
    creating = idp is None
    cleaned = _clean_fields(fields, creating=creating)
    if creating:
        # A new IdP starts off: turning sign-on on is its own step, after a test.
        cleaned.setdefault("enabled", False)
        idp = SamlIdentityProvider(organization=organization)
    changes = {
        name: {"from": _audit_value(name, getattr(idp, name)), "to": _audit_value(name, value)}
        for name, value in cleaned.items()
        if creating or getattr(idp, name) != value
    }
    if not changes:
        return idp
    if cleaned.get("enabled") and _oidc_is_active(organization):
        raise SsoError(
            "OpenID Connect is the active sign-in connection: test SAML sign-in, then switch to it."
        )
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
    if creating:
        sp_keys_ensure(organization=organization, actor=actor)
    if "enabled" in changes and not idp.enabled:
        # Nobody could sign in the way the requirement demands: it goes with SSO.
        organization_set_sso_required(organization=organization, required=False, actor=actor)
    return idp


def idp_configure_from_metadata(
    *,
    organization: Organization,
    actor: Actor,
    metadata_xml,
    acting_user: User | None = None,
    **options,
) -> SamlIdentityProvider:
    """Configure from IdP metadata XML; `options` set the fields metadata does not carry."""
    check_may_configure_sso(acting_user, actor, organization)
    parsed = parse_idp_metadata(metadata_xml).as_fields()
    return idp_configure(
        organization=organization, actor=actor, acting_user=acting_user, **{**parsed, **options}
    )


def idp_configure_from_url(
    *,
    organization: Organization,
    actor: Actor,
    url: str,
    acting_user: User | None = None,
    **options,
) -> SamlIdentityProvider:
    """Fetch the IdP's metadata (https, public address, size-capped) and configure from it."""
    check_may_configure_sso(acting_user, actor, organization)
    metadata_xml = fetch_idp_metadata(url)
    return idp_configure_from_metadata(
        organization=organization,
        actor=actor,
        metadata_xml=metadata_xml,
        acting_user=acting_user,
        **options,
    )
