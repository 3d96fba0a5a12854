"""Operations admin view of provisioning tokens: read-only, with revocation.

Tokens are created with `manage.py create_provisioning_token` or the console, where
the secret can be shown once; the admin never sees or stores secrets.
"""

from django.contrib import admin, messages

from accounts.actors import Actor
from provisioning.models import ProvisioningToken
from provisioning.services import token_revoke


@admin.register(ProvisioningToken)
class ProvisioningTokenAdmin(admin.ModelAdmin):
    list_display = [
        "prefix",
        "label",
        "organization",
        "status",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "key_id",
    ]
    # Which tokens still use a hash key about to be retired (docs/operations.md).
    list_filter = ["organization", "key_id"]
    list_select_related = ["organization", "created_by"]
    search_fields = ["prefix", "label", "organization__slug"]
    fields = [*list_display, "created_by"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Revoke instead: the audit trail keeps naming the token.
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        actor = Actor.for_user(request.user)
        for token in queryset:
            token_revoke(token=token, actor=actor)
        self.message_user(request, f"Revoked {queryset.count()} token(s).", messages.SUCCESS)
