"""This service provider as each organization's IdP sees it: URLs, keys, python3-saml settings.

Everything is built from settings.PUBLIC_BASE_URL and the organization, never from
the request's Host header, so a response addressed to one organization's ACS cannot
be accepted at another's.
"""

import hashlib
import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from accounts.models import Organization
from sso.certificates import usable_certificates
from sso.keystore import decrypt_private_key
from sso.models import NAMEID_UNSPECIFIED, SamlIdentityProvider, SpKeyPair, SpKeyState
from sso.selectors import sp_keys_of

logger = logging.getLogger(__name__)


# Decrypted SP private keys, per process, by key id and the stored ciphertext (which
# changes whenever the key is re-encrypted or replaced): decrypting costs a key
# derivation and a Fernet check on every SAML request otherwise.
_DECRYPTED_KEYS: dict[tuple[int, str], str] = {}
_DECRYPTED_KEYS_MAX = 256


def sp_private_key_pem(key: SpKeyPair) -> str:
    version = hashlib.sha256(key.private_key_encrypted.encode()).hexdigest()
    cached = _DECRYPTED_KEYS.get((key.pk, version))
    if cached is None:
        cached = decrypt_private_key(key.private_key_encrypted).decode()
        if len(_DECRYPTED_KEYS) >= _DECRYPTED_KEYS_MAX:
            _DECRYPTED_KEYS.clear()
        _DECRYPTED_KEYS[(key.pk, version)] = cached
    return cached


def sp_urls(organization: Organization) -> dict[str, str]:
    base = settings.PUBLIC_BASE_URL
    slug = organization.slug
    metadata_url = base + reverse("sso:metadata", args=[slug])
    return {
        "entity_id": metadata_url,
        "metadata_url": metadata_url,
        "acs_url": base + reverse("sso:acs", args=[slug]),
        "slo_url": base + reverse("sso:slo", args=[slug]),
        "login_url": base + reverse("sso:login", args=[slug]),
    }


def sp_certificate_pem(organization: Organization) -> str | None:
    """The certificate that signs this organization's requests; None before one is made.

    Reads only: the key pair is made by sso.services.sp_keys_ensure, when single sign-on
    is first configured or an admin asks for it, never by a page view.
    """
    active = sp_keys_of(organization).get(SpKeyState.ACTIVE)
    return active.certificate_pem if active else None


def request_data(request, path: str) -> dict:
    """The request as python3-saml reads it, with the URL taken from PUBLIC_BASE_URL."""
    public = urlsplit(settings.PUBLIC_BASE_URL)
    return {
        "https": "on" if public.scheme == "https" else "off",
        "http_host": public.netloc,
        "script_name": path,
        "get_data": request.GET.copy(),
        "post_data": request.POST.copy(),
    }


def _security(idp: SamlIdentityProvider | None) -> dict:
    return {
        "authnRequestsSigned": bool(idp and idp.sign_authn_requests),
        # Okta and Entra ID verify logout messages against the SP certificate.
        "logoutRequestSigned": True,
        "logoutResponseSigned": True,
        "signMetadata": False,
        "wantMessagesSigned": False,
        "wantAssertionsSigned": True,
        "wantNameId": True,
        "wantNameIdEncrypted": False,
        "wantAssertionsEncrypted": False,
        # Okta sends no AttributeStatement unless attribute statements are configured.
        "wantAttributeStatement": False,
        "requestedAuthnContext": False,
        "rejectDeprecatedAlgorithm": True,
        "allowRepeatAttributeName": False,
        "signatureAlgorithm": C.RSA_SHA256,
        "digestAlgorithm": C.SHA256,
        "allowSingleLabelDomains": True,
    }


def build_saml_settings(
    *, organization: Organization, idp: SamlIdentityProvider | None, keys: dict
) -> dict:
    """python3-saml settings for one organization, strict, from explicit inputs."""
    urls = sp_urls(organization)
    active, upcoming = keys.get(SpKeyState.ACTIVE), keys.get(SpKeyState.NEXT)
    sp = {
        "entityId": urls["entity_id"],
        "assertionConsumerService": {"url": urls["acs_url"], "binding": C.BINDING_HTTP_POST},
        "singleLogoutService": {"url": urls["slo_url"], "binding": C.BINDING_HTTP_REDIRECT},
        "NameIDFormat": idp.name_id_format if idp else NAMEID_UNSPECIFIED,
        "x509cert": active.certificate_pem if active else "",
        "privateKey": sp_private_key_pem(active) if active else "",
    }
    if upcoming is not None:
        # Published in metadata before it signs anything: the rollover path.
        sp["x509certNew"] = upcoming.certificate_pem
    config = {"strict": True, "debug": False, "sp": sp, "security": _security(idp)}
    if idp is not None:
        config["idp"] = {
            "entityId": idp.entity_id,
            "singleSignOnService": {"url": idp.sso_url, "binding": C.BINDING_HTTP_REDIRECT},
            # An expired certificate verifies nothing (refused at configuration too).
            "x509certMulti": {"signing": usable_certificates(idp, now=timezone.now())},
        }
        if idp.slo_url:
            config["idp"]["singleLogoutService"] = {
                "url": idp.slo_url,
                "binding": C.BINDING_HTTP_REDIRECT,
            }
    return config


def sp_metadata_xml(
    *, organization: Organization, idp: SamlIdentityProvider | None, keys: dict
) -> str | None:
    """This SP's metadata document, validated by python3-saml; None if it does not validate."""
    config = build_saml_settings(organization=organization, idp=idp, keys=keys)
    saml_settings = OneLogin_Saml2_Settings(config, sp_validation_only=True)
    xml = saml_settings.get_sp_metadata()
    xml = xml.decode() if isinstance(xml, bytes) else xml
    if saml_settings.validate_metadata(xml):
        logger.error("sp metadata invalid", extra={"event": "sso.metadata_invalid"})
        return None
    return xml
