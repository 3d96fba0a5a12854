"""A SAML Response in, a trusted assertion out, or LoginRefused with a reason.

python3-saml in strict mode does the XML schema, signature and condition checks; the
checks it leaves loose are made exact here (SAML 2.0 profiles, saml-profiles-2.0-os):
Destination and Recipient must equal this organization's ACS URL (the library only
tests a prefix/substring), an AudienceRestriction must name our entity ID, the bearer
SubjectConfirmationData must carry NotOnOrAfter (§4.1.4.2), InResponseTo must match
the request this browser sent, and the clock skew on Conditions is ours
(SAML_CLOCK_SKEW_SECONDS), not the library's 5 minutes. The library checks the bearer
confirmation's NotOnOrAfter itself, with no allowance.
"""

import binascii
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Error, OneLogin_Saml2_Utils
from onelogin.saml2.utils import OneLogin_Saml2_ValidationError as V
from onelogin.saml2.xmlparser import DTDForbidden, EntitiesForbidden

from sso.errors import LoginRefused

_REASONS = {
    V.WRONG_NUMBER_OF_ASSERTIONS: "assertion_count",
    V.STATUS_CODE_IS_NOT_SUCCESS: "idp_status_not_success",
    V.WRONG_SIGNED_ELEMENT: "signature_wrapping",
    V.ID_NOT_FOUND_IN_SIGNED_ELEMENT: "signature_wrapping",
    V.DUPLICATED_ID_IN_SIGNED_ELEMENTS: "signature_wrapping",
    V.INVALID_SIGNED_ELEMENT: "signature_wrapping",
    V.DUPLICATED_REFERENCE_IN_SIGNED_ELEMENTS: "signature_wrapping",
    V.UNEXPECTED_SIGNED_ELEMENTS: "signature_wrapping",
    V.WRONG_NUMBER_OF_SIGNATURES_IN_RESPONSE: "signature_wrapping",
    V.WRONG_NUMBER_OF_SIGNATURES_IN_ASSERTION: "signature_wrapping",
    V.INVALID_XML_FORMAT: "schema_invalid",
    V.WRONG_INRESPONSETO: "in_response_to_mismatch",
    V.ASSERTION_TOO_EARLY: "not_yet_valid",
    V.ASSERTION_EXPIRED: "expired",
    V.SESSION_EXPIRED: "expired",
    V.WRONG_DESTINATION: "wrong_destination",
    V.EMPTY_DESTINATION: "wrong_destination",
    V.WRONG_AUDIENCE: "wrong_audience",
    V.WRONG_ISSUER: "wrong_issuer",
    V.ISSUER_MULTIPLE_IN_RESPONSE: "wrong_issuer",
    V.ISSUER_NOT_FOUND_IN_ASSERTION: "wrong_issuer",
    V.WRONG_SUBJECTCONFIRMATION: "subject_confirmation",
    V.NO_SIGNED_ASSERTION: "assertion_unsigned",
    V.NO_SIGNATURE_FOUND: "unsigned",
    V.INVALID_SIGNATURE: "bad_signature",
    V.NO_NAMEID: "no_name_id",
    V.EMPTY_NAMEID: "no_name_id",
    V.DEPRECATED_SIGNATURE_METHOD: "deprecated_algorithm",
    V.DEPRECATED_DIGEST_METHOD: "deprecated_algorithm",
    V.DUPLICATED_ATTRIBUTE_NAME_FOUND: "duplicated_attribute",
}


@dataclass(frozen=True)
class TrustedAssertion:
    assertion_id: str
    name_id: str
    name_id_format: str
    name_id_name_qualifier: str
    name_id_sp_name_qualifier: str
    session_index: str
    in_response_to: str
    expires_at: dt.datetime
    attributes: dict = field(default_factory=dict)

    def single_attribute(self, name: str) -> str:
        values = [v for v in self.attributes.get(name, []) if isinstance(v, str)]
        return values[0] if len(values) == 1 else ""


class _SkewedResponse(OneLogin_Saml2_Response):
    """The library's Response with our clock skew on Conditions instead of its 300 s."""

    def __init__(self, settings, response, *, skew_seconds: int):
        self.skew_seconds = skew_seconds
        super().__init__(settings, response)

    def validate_timestamps(self, raise_exceptions=True):
        now = OneLogin_Saml2_Utils.now()
        for conditions in self._query_assertion("/saml:Conditions"):
            not_before = conditions.get("NotBefore")
            not_on_or_after = conditions.get("NotOnOrAfter")
            if not_before and _time(not_before) > now + self.skew_seconds:
                raise V("The assertion is not yet valid.", V.ASSERTION_TOO_EARLY)
            if not_on_or_after and _time(not_on_or_after) + self.skew_seconds <= now:
                raise V("The assertion has expired.", V.ASSERTION_EXPIRED)
        return True


def _time(value: str) -> int:
    return OneLogin_Saml2_Utils.parse_SAML_to_time(value)


def _parse(settings, encoded: str, skew_seconds: int) -> _SkewedResponse:
    try:
        return _SkewedResponse(settings, encoded, skew_seconds=skew_seconds)
    except (DTDForbidden, EntitiesForbidden):
        raise LoginRefused("dtd_or_entity") from None
    except (binascii.Error, ValueError, TypeError, etree.XMLSyntaxError, OneLogin_Saml2_Error):
        raise LoginRefused("malformed") from None
    except Exception:  # the library raises bare Exception in places
        raise LoginRefused("malformed") from None


def _response_is_signed(response: OneLogin_Saml2_Response) -> bool:
    return response.document.find(f"{{{C.NS_DS}}}Signature") is not None


def _check_destination(response, acs_url: str) -> None:
    destination = response.document.get("Destination")
    # SAMLBind §3.5.5.2: a signed message sent by POST must name its Destination.
    if destination is None and _response_is_signed(response):
        raise LoginRefused("wrong_destination", detail="signed response without Destination")
    if destination is not None and destination != acs_url:
        raise LoginRefused("wrong_destination", detail=f"Destination {destination}")


def _check_audience(response, entity_id: str) -> None:
    audiences = response.get_audiences()
    if entity_id not in audiences:
        raise LoginRefused("wrong_audience", detail=f"audiences {audiences}")


def _check_subject_confirmation(response, *, acs_url: str, in_response_to: str) -> int:
    """Every bearer confirmation names our ACS and an expiry; returns the latest expiry."""
    # _query_assertion reads the assertion the signature covers, not any lookalike.
    confirmations = response._query_assertion("/saml:Subject/saml:SubjectConfirmation")
    expiries = []
    for confirmation in confirmations:
        data = confirmation.find("saml:SubjectConfirmationData", namespaces=C.NSMAP)
        if confirmation.get("Method") != C.CM_BEARER or data is None:
            continue
        if data.get("Recipient") != acs_url:
            raise LoginRefused("wrong_recipient", detail=f"Recipient {data.get('Recipient')}")
        if (data.get("InResponseTo") or "") != in_response_to:
            raise LoginRefused("in_response_to_mismatch", detail="SubjectConfirmationData")
        if not data.get("NotOnOrAfter"):
            raise LoginRefused("subject_confirmation", detail="no NotOnOrAfter")
        expiries.append(_time(data.get("NotOnOrAfter")))
    if not expiries:
        raise LoginRefused("subject_confirmation", detail="no bearer confirmation")
    return max(expiries)


def _check_in_response_to(response, *, pending_request_id: str, allow_unsolicited: bool) -> str:
    in_response_to = response.get_in_response_to() or ""
    if in_response_to:
        if in_response_to != pending_request_id:
            raise LoginRefused("in_response_to_mismatch", detail="not this browser's request")
    elif not allow_unsolicited:
        raise LoginRefused("unsolicited_refused")
    return in_response_to


def _conditions_expiry(response) -> int:
    values = [c.get("NotOnOrAfter") for c in response._query_assertion("/saml:Conditions")]
    return max((_time(v) for v in values if v), default=0)


# python3-saml's settings objects, per process, by the exact settings they were built
# from: building one re-checks and re-formats every certificate and key (about as
# long as a signature check), and a Response only reads it.
_LIBRARY_SETTINGS: dict[str, OneLogin_Saml2_Settings] = {}
_LIBRARY_SETTINGS_MAX = 128


def _library_settings(saml_settings: dict) -> OneLogin_Saml2_Settings:
    fingerprint = hashlib.sha256(
        json.dumps(saml_settings, sort_keys=True, default=str).encode()
    ).hexdigest()
    cached = _LIBRARY_SETTINGS.get(fingerprint)
    if cached is None:
        cached = OneLogin_Saml2_Settings(saml_settings, sp_validation_only=True)
        if len(_LIBRARY_SETTINGS) >= _LIBRARY_SETTINGS_MAX:
            _LIBRARY_SETTINGS.clear()
        _LIBRARY_SETTINGS[fingerprint] = cached
    return cached


def validate_response(
    *,
    saml_settings: dict,
    encoded_response: str,
    request_data: dict,
    urls: dict,
    pending_request_id: str,
    allow_unsolicited: bool,
    skew_seconds: int,
) -> TrustedAssertion:
    if not saml_settings.get("idp", {}).get("x509certMulti", {}).get("signing"):
        raise LoginRefused("no_usable_idp_certificate")
    settings = _library_settings(saml_settings)
    response = _parse(settings, encoded_response, skew_seconds)
    try:
        # The library compares InResponseTo itself only when both sides have one;
        # the rules for the missing cases are in _check_in_response_to.
        response.is_valid(
            request_data, request_id=pending_request_id or None, raise_exceptions=True
        )
        in_response_to = _check_in_response_to(
            response,
            pending_request_id=pending_request_id,
            allow_unsolicited=allow_unsolicited,
        )
        _check_destination(response, urls["acs_url"])
        _check_audience(response, urls["entity_id"])
        confirmation_expiry = _check_subject_confirmation(
            response, acs_url=urls["acs_url"], in_response_to=in_response_to
        )
        name_id = response.get_nameid_data()
        assertion_id = response.get_assertion_id()
        attributes = response.get_attributes()
        session_index = response.get_session_index() or ""
    except LoginRefused:
        raise
    except V as exc:
        raise LoginRefused(_REASONS.get(exc.code, "invalid_response"), detail=str(exc)) from None
    except OneLogin_Saml2_Error as exc:
        raise LoginRefused("invalid_response", detail=str(exc)) from None
    except Exception as exc:  # the library raises bare Exception in places
        raise LoginRefused("invalid_response", detail=type(exc).__name__) from None
    expiry = max(confirmation_expiry, _conditions_expiry(response)) + skew_seconds
    return TrustedAssertion(
        assertion_id=assertion_id or "",
        name_id=name_id.get("Value", ""),
        name_id_format=name_id.get("Format", ""),
        name_id_name_qualifier=name_id.get("NameQualifier", ""),
        name_id_sp_name_qualifier=name_id.get("SPNameQualifier", ""),
        session_index=session_index,
        in_response_to=in_response_to,
        expires_at=dt.datetime.fromtimestamp(expiry, tz=dt.UTC),
        attributes=attributes,
    )
