"""django-scim2 adapters for User and Group: translate between SCIM JSON and the domain.

Reads render a loaded model (its groups/members and its IdP-managed SSH keys come
prefetched by the view's queryset); writes collect what the request wants and then call
the accounts services (and transfer's for the SSH keys) with the provisioning token as
the actor. No adapter calls `.save()`.
"""

from django.utils.functional import cached_property
from django_scim.adapters import SCIMGroup, SCIMUser

from accounts import services
from accounts.actors import Actor
from accounts.errors import UnknownMember
from accounts.models import Source
from accounts.selectors import users_by_ids
from provisioning.attributes import EXTENSIONS, USER
from provisioning.custom_attributes import custom_schema
from provisioning.errors import INVALID_VALUE, BadRequest
from provisioning.group_operations import GroupChange
from provisioning.schemas import CORE_GROUP, CORE_USER, public_url
from provisioning.ssh_public_keys import SSH_PUBLIC_KEYS, has_no_keys_yet, values_of
from provisioning.user_attributes import UserChange, document_of, rendered
from transfer.services import CredentialRefused, ssh_keys_replace_from_idp


def token_actor(request) -> Actor:
    token = request.scim_token
    return Actor.for_token(token_id=token.pk, prefix=token.prefix, label=token.label)


def etag_of(obj) -> str:
    return f'W/"{obj.version}"'


def _meta(adapter) -> dict:
    return {
        "resourceType": adapter.resource_type,
        "created": adapter.obj.created_at.isoformat(),
        "lastModified": adapter.obj.updated_at.isoformat(),
        "location": adapter.location,
        "version": etag_of(adapter.obj),
    }


class ScimResourceMixin:
    id_field = "id"
    endpoint = ""

    @property
    def organization(self):
        return self.request.scim_organization

    @property
    def actor(self) -> Actor:
        return token_actor(self.request)

    @property
    def location(self) -> str:
        return public_url(f"{self.endpoint}/{self.obj.pk}")

    @property
    def etag(self) -> str:
        return etag_of(self.obj)


class ScimUserAdapter(ScimResourceMixin, SCIMUser):
    endpoint = "Users"
    url_name = "scim:users"
    resource_type = "User"

    @cached_property
    def change(self) -> UserChange:
        """What a write asks for; made only when a request writes, not for every read."""
        return UserChange(self.obj, custom_schema(self.organization))

    @property
    def display_name(self):
        return self.obj.display_name or self.obj.username

    @property
    def groups(self):
        # memberships (with their groups) are prefetched by the view's queryset.
        return [
            {
                "value": str(m.group_id),
                "display": m.group.display_name,
                "$ref": public_url(f"Groups/{m.group_id}"),
                "type": "direct",
            }
            for m in self.obj.memberships.all()
        ]

    def to_dict(self):
        custom = custom_schema(self.organization)
        document = document_of(self.obj)
        ssh_public_keys = values_of(self.obj)
        if ssh_public_keys:
            document[SSH_PUBLIC_KEYS] = ssh_public_keys
        document.update(custom.values_of(self.obj.custom_attributes))
        document = rendered(document)
        extensions = (*EXTENSIONS[USER], custom.urn)
        schemas = [CORE_USER, *(urn for urn in extensions if urn and urn in document)]
        return {
            "schemas": schemas,
            "id": str(self.obj.pk),
            **document,
            "groups": self.groups,
            "meta": _meta(self),
        }

    # -- writes -----------------------------------------------------------------------

    def from_dict(self, d):
        self.change.replace_all(d, keep_active=self.obj is not None)

    def handle_operations(self, operations):
        for operation in operations:
            self.change.apply(operation)

    def save(self):
        # The request gate runs every request in one transaction; the services each
        # run in their own (nested) one, so a refusal of either leaves nothing written.
        # What was ignored goes to the request log (provisioning.request_log).
        self.request.scim_ignored_attributes = self.change.ignored
        created = self.obj is None
        self.save_fields()
        self.save_ssh_keys(created=created)

    def save_fields(self):
        wanted = self.change.fields()
        if self.obj is None:
            self.obj = services.user_create(
                organization=self.organization,
                actor=self.actor,
                source=Source.SCIM,
                **wanted,
            )
            return
        current = self.change.original_fields()
        changed = {field: value for field, value in wanted.items() if current.get(field) != value}
        if changed:
            self.obj = services.user_apply(user=self.obj, actor=self.actor, **changed)

    def save_ssh_keys(self, *, created: bool):
        """The keys the identity provider manages, when the request names them."""
        public_keys = self.change.ssh_keys.lines
        if created and not public_keys:
            has_no_keys_yet(self.obj)  # so its answer reads none
            return
        if public_keys is None:
            return
        try:
            changed = ssh_keys_replace_from_idp(
                user=self.obj, public_keys=public_keys, actor=self.actor
            )
        except CredentialRefused as error:
            # A key registered to another person, or more than a person may have: a
            # value this user cannot hold (docs/scim.md says why this is not a 409).
            raise BadRequest(f"{SSH_PUBLIC_KEYS.name}: {error}", scim_type=INVALID_VALUE) from None
        if changed:
            # The service bumped the version (the ETag) on its own locked copy.
            self.obj.refresh_from_db(fields=["version", "updated_at"])

    def delete(self):
        services.user_delete(user=self.obj, actor=self.actor)


class ScimGroupAdapter(ScimResourceMixin, SCIMGroup):
    endpoint = "Groups"
    url_name = "scim:groups"
    resource_type = "Group"

    def __init__(self, obj, request=None):
        super().__init__(obj, request=request)
        self.pending: GroupChange | None = None

    @property
    def display_name(self):
        return self.obj.display_name

    def member_dicts(self, *, with_display: bool = False) -> list[dict]:
        # memberships (with their users) are prefetched by the view's queryset.
        members = []
        for membership in self.obj.memberships.all():
            member = {
                "value": str(membership.user_id),
                "$ref": public_url(f"Users/{membership.user_id}"),
                "type": "User",
            }
            if with_display:
                member["display"] = membership.user.display_name or membership.user.username
            members.append(member)
        return members

    @property
    def members(self):
        return self.member_dicts(with_display=True)

    def to_dict(self, *, with_members: bool = True, with_member_display: bool = False):
        group = self.obj
        d = {"schemas": [CORE_GROUP], "id": str(group.pk)}
        if group.external_id:
            d["externalId"] = group.external_id
        d["displayName"] = group.display_name
        if with_members:
            d["members"] = self.member_dicts(with_display=with_member_display)
        d["meta"] = _meta(self)
        return d

    # -- writes -----------------------------------------------------------------------

    def from_dict(self, d):
        self.pending = GroupChange.replacing(d)

    def handle_operations(self, operations):
        self.pending = GroupChange.patching(operations)

    def resolve_members(self, ids: list[str]):
        """The organization's users for `ids`; any unknown or foreign id refuses the request."""
        found = users_by_ids(self.organization, ids)
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if missing:
            raise UnknownMember(missing[0])
        return [found[i] for i in dict.fromkeys(ids)]

    def known_members(self, ids: list[str]):
        """Users among `ids`; removing someone who is not there is a no-op, not an error."""
        return list(users_by_ids(self.organization, ids).values())

    def save(self):
        self.obj = self.pending.apply(self)

    def delete(self):
        services.group_delete(group=self.obj, actor=self.actor)
