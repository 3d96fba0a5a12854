"""Every state change of the accounts domain.

Each service is one transaction, locks what it changes, returns early when nothing
changes, and writes its audit event in that transaction.
"""

from accounts.services.audit import audit_record, console_sign_in_failed
from accounts.services.domains import (
    domain_add,
    domain_check,
    domain_check_record,
    domain_remove,
    domains_recheck_verified,
)
from accounts.services.groups import (
    group_apply,
    group_create,
    group_delete,
    group_members_add,
    group_members_clear,
    group_members_remove,
    group_members_replace,
    group_update,
)
from accounts.services.operators import operator_create
from accounts.services.organizations import organization_create, organization_set_sso_required
from accounts.services.role_mapping import group_set_grants_admin, roles_apply_mapping
from accounts.services.users import (
    PROFILE_FIELDS,
    user_apply,
    user_create,
    user_deactivate,
    user_delete,
    user_link_to_idp,
    user_reactivate,
    user_record_sso_sign_in,
    user_set_active,
    user_set_password,
    user_set_role,
    user_update,
)

__all__ = [
    "PROFILE_FIELDS",
    "audit_record",
    "console_sign_in_failed",
    "domain_add",
    "domain_check",
    "domain_check_record",
    "domain_remove",
    "domains_recheck_verified",
    "group_apply",
    "group_create",
    "group_delete",
    "group_members_add",
    "group_members_clear",
    "group_members_remove",
    "group_members_replace",
    "group_set_grants_admin",
    "group_update",
    "operator_create",
    "organization_create",
    "organization_set_sso_required",
    "roles_apply_mapping",
    "user_apply",
    "user_create",
    "user_deactivate",
    "user_delete",
    "user_link_to_idp",
    "user_reactivate",
    "user_record_sso_sign_in",
    "user_set_active",
    "user_set_password",
    "user_set_role",
    "user_update",
]
