"""Operations admin for platform operators; every save goes through the services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction

from accounts import services
from accounts.actors import Actor
from accounts.errors import AccountsError, GroupNameTaken, UsernameTaken
from accounts.models import AuditEvent, Group, Membership, Organization, User
from accounts.selectors import group_by_display_name, user_by_username


def _actor(request) -> Actor:
    return Actor.for_user(request.user)


class ServiceSaveMixin:
    """Turns domain refusals into admin messages instead of 500s."""

    def _run(self, request, change):
        try:
            change()
        except AccountsError as error:
            self.message_user(request, str(error), level=messages.ERROR)
            raise PermissionDenied(str(error)) from error


@admin.register(Organization)
class OrganizationAdmin(ServiceSaveMixin, admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    readonly_fields = ["created_at"]

    def get_readonly_fields(self, request, obj=None):
        # Requiring SSO needs an owner's working SSO sign-in: the console, not here.
        return ["slug", "sso_required", "created_at"] if obj else ["sso_required", "created_at"]

    def has_delete_permission(self, request, obj=None):
        # Deleting would take the append-only audit trail with it.
        return False

    def save_model(self, request, obj, form, change):
        if change:
            # Only the display name is editable after creation.
            Organization.objects.filter(pk=obj.pk).update(name=obj.name)
            return
        created = services.organization_create(slug=obj.slug, name=obj.name, actor=_actor(request))
        obj.pk = created.pk


class UserAdminForm(forms.ModelForm):
    """Shows a taken userName on the form; the form cannot see the constraint because
    the organization is read-only once the user exists."""

    def clean(self):
        cleaned = super().clean()
        organization = cleaned.get("organization") or self.instance.organization
        if organization is None and "organization" in self.fields:
            self.add_error(
                "organization",
                "Choose the user's organization; platform operators are made with "
                "manage.py createsuperuser.",
            )
        username = (cleaned.get("username") or "").strip()
        if organization is not None and username:
            existing = user_by_username(organization, username)
            if existing is not None and existing.pk != self.instance.pk:
                self.add_error("username", str(UsernameTaken(username)))
        return cleaned


class GroupAdminForm(forms.ModelForm):
    """Shows a taken displayName on the form, for the same reason as UserAdminForm."""

    def clean(self):
        cleaned = super().clean()
        organization = cleaned.get("organization") or getattr(self.instance, "organization", None)
        display_name = (cleaned.get("display_name") or "").strip()
        if organization is not None and display_name:
            existing = group_by_display_name(organization, display_name)
            if existing is not None and existing.pk != self.instance.pk:
                self.add_error("display_name", str(GroupNameTaken(display_name)))
        return cleaned


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at"]


@admin.register(User)
class UserAdmin(ServiceSaveMixin, admin.ModelAdmin):
    form = UserAdminForm
    list_display = [
        "username",
        "email",
        "organization",
        "role",
        "is_active",
        "source",
        "updated_at",
    ]
    list_filter = ["is_active", "role", "source", "organization"]
    search_fields = ["username", "email", "given_name", "family_name", "external_id"]
    list_select_related = ["organization"]
    readonly_fields = ["id", "version", "created_at", "updated_at", "last_login", "source"]
    fields = [
        "id",
        "organization",
        "username",
        "email",
        "given_name",
        "family_name",
        "display_name",
        "external_id",
        "title",
        "locale",
        "enterprise",
        "role",
        "is_active",
        "source",
        "version",
        "created_at",
        "updated_at",
        "last_login",
    ]

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        return [*fields, "organization"] if obj else fields

    def save_model(self, request, obj, form, change):
        actor = _actor(request)
        profile = {
            name: form.cleaned_data[name]
            for name in services.PROFILE_FIELDS
            if name in form.cleaned_data
        }
        if not change:
            self._run(
                request,
                lambda: setattr(
                    obj,
                    "pk",
                    services.user_create(
                        organization=form.cleaned_data["organization"],
                        actor=actor,
                        role=form.cleaned_data["role"],
                        is_active=form.cleaned_data["is_active"],
                        **profile,
                    ).pk,
                ),
            )
            return
        stored = User.objects.get(pk=obj.pk)

        def apply():
            services.user_update(user=stored, actor=actor, **profile)
            services.user_set_active(
                user=stored, active=form.cleaned_data["is_active"], actor=actor
            )
            services.user_set_role(user=stored, role=form.cleaned_data["role"], actor=actor)

        self._run(request, apply)

    def delete_model(self, request, obj):
        self._run(request, lambda: services.user_delete(user=obj, actor=_actor(request)))

    def delete_queryset(self, request, queryset):
        # All or nothing: a refusal (the last owner, say) keeps every selected user.
        with transaction.atomic():
            for user in queryset:
                self._run(
                    request,
                    lambda user=user: services.user_delete(user=user, actor=_actor(request)),
                )


@admin.register(Group)
class GroupAdmin(ServiceSaveMixin, admin.ModelAdmin):
    form = GroupAdminForm
    list_display = ["display_name", "organization", "external_id", "updated_at"]
    list_filter = ["organization"]
    search_fields = ["display_name", "external_id"]
    list_select_related = ["organization"]
    readonly_fields = ["id", "version", "created_at", "updated_at"]
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        return [*fields, "organization"] if obj else fields

    def save_model(self, request, obj, form, change):
        actor = _actor(request)
        if not change:
            self._run(
                request,
                lambda: setattr(
                    obj,
                    "pk",
                    services.group_create(
                        organization=form.cleaned_data["organization"],
                        display_name=form.cleaned_data["display_name"],
                        external_id=form.cleaned_data["external_id"],
                        actor=actor,
                    ).pk,
                ),
            )
            obj._state.adding = False
            return
        self._run(
            request,
            lambda: services.group_update(
                group=obj,
                actor=actor,
                display_name=form.cleaned_data["display_name"],
                external_id=form.cleaned_data["external_id"],
            ),
        )

    def save_formset(self, request, form, formset, change):
        group = form.instance
        actor = _actor(request)
        added, removed = [], []
        for inline_form in formset.forms:
            if not inline_form.has_changed() and not formset._should_delete_form(inline_form):
                continue
            user = inline_form.cleaned_data.get("user")
            if user is None:
                continue
            if formset._should_delete_form(inline_form):
                removed.append(user)
            elif inline_form.instance.pk is None:
                added.append(user)
            elif "user" in inline_form.changed_data:
                # An existing row now names another user: a removal plus an addition.
                removed.append(User.objects.get(pk=inline_form.initial["user"]))
                added.append(user)
        self._run(
            request,
            lambda: (
                services.group_members_remove(group=group, users=removed, actor=actor),
                services.group_members_add(group=group, users=added, actor=actor),
            ),
        )
        # The admin's change message reads what formset.save() would have recorded;
        # the audit trail holds the membership changes.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_model(self, request, obj):
        services.group_delete(group=obj, actor=_actor(request))

    def delete_queryset(self, request, queryset):
        for group in queryset:
            services.group_delete(group=group, actor=_actor(request))


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "organization", "action", "actor_label", "target_label"]
    list_filter = ["action", "actor_type", "organization"]
    search_fields = ["target_label", "target_id", "actor_label", "request_id"]
    list_select_related = ["organization"]
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
