"""Every state change of the sso app: IdP and OIDC configuration, SP keys, sign-ins.

Each service is one transaction and writes its audit event in it (sso.configured,
sso.connection_switched, sso.requirement_changed, sso.login, sso.login_failed,
sso.sessions_ended).
"""

from sso.services.enforcement import SsoNotProven, sso_requirement_set
from sso.services.idp import idp_configure, idp_configure_from_metadata, idp_configure_from_url
from sso.services.keys import sp_key_activate_next, sp_key_stage_next, sp_keys_ensure
from sso.services.logout import logout_request_consume, session_is_named_by
from sso.services.oidc import (
    connection_record_proof,
    oidc_configure,
    oidc_set_enabled,
    sign_in_connection_switch,
)
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
    "connection_record_proof",
    "idp_configure",
    "idp_configure_from_metadata",
    "idp_configure_from_url",
    "logout_request_consume",
    "oidc_configure",
    "oidc_set_enabled",
    "session_is_named_by",
    "sign_in_connection_switch",
    "sp_key_activate_next",
    "sp_key_stage_next",
    "sp_keys_ensure",
    "sso_requirement_set",
    "sso_sign_in",
    "sso_sign_in_failed",
]
