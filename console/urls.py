from django.urls import path

from console.views import (
    activity,
    auth,
    groups,
    guides,
    home,
    integrations,
    provisioning,
    scim_log,
    sso,
    users,
)

app_name = "console"

urlpatterns = [
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("", home.home, name="home"),
    path("users/", users.user_list, name="users"),
    path("users/<uuid:user_id>/", users.user_detail, name="user_detail"),
    path(
        "users/<uuid:user_id>/deactivate/",
        users.user_set_active_confirm,
        {"active": False},
        name="user_deactivate",
    ),
    path(
        "users/<uuid:user_id>/reactivate/",
        users.user_set_active_confirm,
        {"active": True},
        name="user_reactivate",
    ),
    path("users/<uuid:user_id>/role/", users.user_role, name="user_role"),
    path("users/<uuid:user_id>/idp-link/", users.user_idp_link, name="user_idp_link"),
    path("groups/", groups.group_list, name="groups"),
    path("groups/<uuid:group_id>/", groups.group_detail, name="group_detail"),
    path(
        "groups/<uuid:group_id>/role-mapping/",
        groups.group_role_mapping,
        name="group_role_mapping",
    ),
    path("activity/", activity.activity_list, name="activity"),
    path("activity/export.csv", activity.activity_export, name="activity_export"),
    path("provisioning/", provisioning.provisioning, name="provisioning"),
    path("provisioning/requests/", scim_log.scim_request_list, name="scim_requests"),
    path("provisioning/tokens/", provisioning.token_create_view, name="token_create"),
    path(
        "provisioning/tokens/<int:token_id>/created/",
        provisioning.token_created,
        name="token_created",
    ),
    path(
        "provisioning/tokens/<int:token_id>/revoke/",
        provisioning.token_revoke_view,
        name="token_revoke",
    ),
    path("integrations/", integrations.integrations, name="integrations"),
    path("integrations/api-keys/", integrations.api_key_create_view, name="api_key_create"),
    path(
        "integrations/api-keys/<int:key_id>/created/",
        integrations.api_key_created,
        name="api_key_created",
    ),
    path(
        "integrations/api-keys/<int:key_id>/revoke/",
        integrations.api_key_revoke_view,
        name="api_key_revoke",
    ),
    path("integrations/webhooks/", integrations.endpoint_create_view, name="endpoint_create"),
    path(
        "integrations/webhooks/<int:endpoint_id>/",
        integrations.endpoint_detail,
        name="endpoint",
    ),
    path(
        "integrations/webhooks/<int:endpoint_id>/secret/",
        integrations.endpoint_secret,
        name="endpoint_secret",
    ),
    path(
        "integrations/webhooks/<int:endpoint_id>/events/",
        integrations.endpoint_events_view,
        name="endpoint_events",
    ),
    path(
        "integrations/webhooks/<int:endpoint_id>/enable/",
        integrations.endpoint_enabled_view,
        {"enabled": True},
        name="endpoint_enable",
    ),
    path(
        "integrations/webhooks/<int:endpoint_id>/disable/",
        integrations.endpoint_enabled_view,
        {"enabled": False},
        name="endpoint_disable",
    ),
    path(
        "integrations/webhooks/<int:endpoint_id>/rotate/",
        integrations.endpoint_rotate_view,
        name="endpoint_rotate",
    ),
    path(
        "integrations/webhooks/<int:endpoint_id>/test/",
        integrations.endpoint_test_view,
        name="endpoint_test",
    ),
    path(
        "integrations/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/resend/",
        integrations.delivery_resend_view,
        name="delivery_resend",
    ),
    path("sso/", sso.sso_settings, name="sso"),
    path("sso/metadata/", sso.sso_metadata, name="sso_metadata"),
    path("sso/manual/", sso.sso_manual, name="sso_manual"),
    path("sso/options/", sso.sso_options, name="sso_options"),
    path("sso/enabled/", sso.sso_enabled, name="sso_enabled"),
    path("sso/sp-key/", sso.sp_key_create, name="sp_key_create"),
    path("sso/sp-certificate.pem", sso.sp_certificate_download, name="sp_certificate"),
    path("sso/sp-metadata.xml", sso.sp_metadata_download, name="sp_metadata"),
    path("guides/<slug:name>/", guides.guide, name="guide"),
]
