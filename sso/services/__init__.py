"""Every state change of the sso app: IdP configuration, SP keys, sign-ins.

Each service is one transaction and writes its audit event in it (sso.configured,
sso.requirement_changed, sso.login, sso.login_failed).
"""

from sso.services.enforcement import SsoNotProven, sso_requirement_set
from sso.services.idp import idp_configure, idp_configure_from_metadata, idp_configure_from_url
from sso.services.keys import sp_key_activate_next, sp_key_stage_next, sp_keys_ensure
from sso.services.logout import logout_request_consume, session_is_named_by
from sso.services.sign_in import (
    assertion_consume,
    assertion_spend,
    assertion_uses_purge,
    sso_sign_in,
    sso_sign_in_failed,
)

__all__ = [
    "SsoNotProven",
    "assertion_consume",
    "assertion_spend",
    "assertion_uses_purge",
    "idp_configure",
    "idp_configure_from_metadata",
    "idp_configure_from_url",
    "logout_request_consume",
    "session_is_named_by",
    "sp_key_activate_next",
    "sp_key_stage_next",
    "sp_keys_ensure",
    "sso_requirement_set",
    "sso_sign_in",
    "sso_sign_in_failed",
]
