"""Read-only views for platform operators; changes go through the console, configure_saml
or configure_oidc, which call sso.services (and so are validated and audited)."""

from django.contrib import admin
from django.db import models

from sso.models import OidcConnection, SamlIdentityProvider, SpKeyPair


class ReadOnlyAdmin(admin.ModelAdmin):
    # Nothing is edited here; this keeps the read-only forms' URL fields from warning.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SamlIdentityProvider)
class SamlIdentityProviderAdmin(ReadOnlyAdmin):
    list_display = (
        "organization",
        "entity_id",
        "enabled",
        "allow_idp_initiated",
        "jit_provisioning",
    )
    list_select_related = ("organization",)
    search_fields = ("organization__slug", "entity_id")


@admin.register(SpKeyPair)
class SpKeyPairAdmin(ReadOnlyAdmin):
    list_display = ("organization", "state", "not_after", "created_at")
    list_select_related = ("organization",)
    exclude = ("private_key_encrypted",)


@admin.register(OidcConnection)
class OidcConnectionAdmin(ReadOnlyAdmin):
    list_display = (
        "organization",
        "issuer",
        "client_id",
        "client_auth_method",
        "enabled",
        "last_success_at",
        "last_failure_reason",
    )
    list_select_related = ("organization",)
    search_fields = ("organization__slug", "issuer", "client_id")
    # The secrets stay encrypted and out of every page, as the console keeps them.
    exclude = ("client_secret_encrypted", "signing_key_encrypted")
