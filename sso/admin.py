"""Read-only views for platform operators; changes go through the console or configure_saml,
which call sso.services (and so are validated and audited)."""

from django.contrib import admin

from sso.models import SamlIdentityProvider, SpKeyPair


class ReadOnlyAdmin(admin.ModelAdmin):
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
