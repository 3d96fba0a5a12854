"""An IdP's LogoutRequest (HTTP-Redirect binding), validated, and the LogoutResponse to it.

python3-saml's `process_slo` ends whatever session the browser carries and needs an IdP
SLO URL to answer; here the signature and the request are checked the same way, but
what ends (and whether an answer is sent) is left to the caller, who binds the request
to the session's user and organization.
"""

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.logout_response import OneLogin_Saml2_Logout_Response
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from sso.errors import LogoutRefused

# A LogoutRequest is acted on at once; one older than this is stale, and its id is
# remembered (single use) for this long plus the clock skew.
LOGOUT_REQUEST_MAX_AGE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class TrustedLogoutRequest:
    request_id: str
    name_id: str
    session_indexes: tuple[str, ...]
    issued_at: dt.datetime
    relay_state: str | None

    @property
    def expires_at(self) -> dt.datetime:
        return self.issued_at + LOGOUT_REQUEST_MAX_AGE


def _issued_at(logout_request_xml: str) -> dt.datetime:
    element = OneLogin_Saml2_XML.to_etree(logout_request_xml)
    stamp = OneLogin_Saml2_Utils.parse_SAML_to_time(element.get("IssueInstant"))
    return dt.datetime.fromtimestamp(stamp, tz=dt.UTC)


def validate_logout_request(auth, request_data: dict, *, skew_seconds: int) -> TrustedLogoutRequest:
    """The signed LogoutRequest in `request_data`, or LogoutRefused saying why not."""
    get_data = request_data["get_data"]
    if "Signature" not in get_data or not auth.validate_request_signature(get_data):
        raise LogoutRefused("invalid_signature")
    logout_request = OneLogin_Saml2_Logout_Request(auth.get_settings(), get_data["SAMLRequest"])
    if not logout_request.is_valid(request_data):
        raise LogoutRefused("invalid_request", detail=str(logout_request.get_error() or ""))
    xml = logout_request.get_xml()
    request_id = OneLogin_Saml2_Logout_Request.get_id(xml) or ""
    if not request_id:
        raise LogoutRefused("no_request_id")
    try:
        issued_at = _issued_at(xml)
    except (TypeError, ValueError):
        raise LogoutRefused("bad_issue_instant") from None
    now, skew = timezone.now(), dt.timedelta(seconds=skew_seconds)
    # SAMLCore §3.2.1: IssueInstant; a request from the future or long ago is not fresh.
    if issued_at > now + skew or issued_at + LOGOUT_REQUEST_MAX_AGE + skew < now:
        raise LogoutRefused("stale_request")
    return TrustedLogoutRequest(
        request_id=request_id,
        name_id=(OneLogin_Saml2_Logout_Request.get_nameid(xml) or "").strip(),
        session_indexes=tuple(OneLogin_Saml2_Logout_Request.get_session_indexes(xml)),
        issued_at=issued_at,
        relay_state=get_data.get("RelayState"),
    )


def logout_response_url(auth, logout_request: TrustedLogoutRequest, slo_url: str) -> str:
    """The signed LogoutResponse to the IdP's SLO URL (SAMLBind §3.4.4.1)."""
    builder = OneLogin_Saml2_Logout_Response(auth.get_settings())
    builder.build(logout_request.request_id)
    parameters = {"SAMLResponse": builder.get_response()}
    if logout_request.relay_state is not None:
        parameters["RelayState"] = logout_request.relay_state
    auth.add_response_signature(
        parameters, auth.get_settings().get_security_data()["signatureAlgorithm"]
    )
    return auth.redirect_to(slo_url, parameters)
