"""Declare, change and delete an organization's custom user attributes.

Owners only (accounts.services.privileges). Each change locks the organization's row,
so two owners declaring at once count the same declarations, and bumps its
`custom_attributes_version` (a new random value), which every process reads its cached
declarations by (accounts.custom_attributes).

The name and the type are fixed once declared: identity providers map to the name,
and the stored values are in the type's form. Description and `indexed` may change;
turning `indexed` on or off rewrites the search strings of the users holding a value.
Deleting a declaration purges its values from every user (each such user's version
goes up), so a later declaration of the same name starts empty.
"""

import secrets

from django.utils import timezone

from accounts.actors import Actor
from accounts.custom_attributes import (
    MAX_DECLARATIONS,
    check_name,
    load_declared,
    search_tokens,
)
from accounts.errors import InvalidValue
from accounts.models import (
    AuditAction,
    CustomAttribute,
    CustomAttributeType,
    Organization,
    User,
)
from accounts.services.audit import audit_record
from accounts.services.privileges import check_may_declare_attributes
from accounts.transactions import atomic

# Users rewritten per statement when a declaration's values are purged or re-indexed.
REWRITE_BATCH = 500
MAX_DESCRIPTION_LENGTH = CustomAttribute._meta.get_field("description").max_length

# custom_attributes_version is a PositiveIntegerField: at most 2**31 - 1.
MAX_VERSION = 2**31 - 1


def _locked_organization(organization: Organization) -> Organization:
    return Organization.objects.select_for_update().get(pk=organization.pk)


def _bump_version(organization: Organization, locked: Organization) -> None:
    """A new version, drawn at random rather than counted: a change that rolls back
    leaves its version unused for good, so no process can hold declarations read under
    a version that a later change then gives to other declarations."""
    current = locked.custom_attributes_version
    while locked.custom_attributes_version in (0, current):
        locked.custom_attributes_version = secrets.randbelow(MAX_VERSION) + 1
    locked.save(update_fields=["custom_attributes_version"])
    # The caller's copy reads the new declarations too.
    organization.custom_attributes_version = locked.custom_attributes_version


def _description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidValue(f"A description has at most {MAX_DESCRIPTION_LENGTH} characters.")
    return description


def _described(attribute: CustomAttribute) -> dict:
    return {
        "name": attribute.name,
        "type": attribute.type,
        "multi_valued": attribute.multi_valued,
        "indexed": attribute.indexed,
        "description": attribute.description,
    }


def _audit(attribute: CustomAttribute, *, actor: Actor, action: str, changes: dict) -> None:
    audit_record(
        organization=attribute.organization,
        actor=actor,
        action=action,
        target_type="custom_attribute",
        target_id=attribute.pk,
        target_label=attribute.name,
        changes=changes,
    )


@atomic()
def custom_attribute_declare(
    *,
    organization: Organization,
    name: str,
    type: str,
    actor: Actor,
    acting_user: User | None,
    multi_valued: bool = False,
    description: str = "",
    indexed: bool = False,
) -> CustomAttribute:
    """Declare a custom user attribute; at most MAX_DECLARATIONS per organization."""
    check_may_declare_attributes(acting_user, actor, organization)
    name = check_name(name)
    if type not in CustomAttributeType.values:
        raise InvalidValue(f"Unknown type {type!r}.")
    description = _description(description)
    locked = _locked_organization(organization)
    existing = CustomAttribute.objects.filter(organization=locked)
    if existing.count() >= MAX_DECLARATIONS:
        raise InvalidValue(
            f"An organization declares at most {MAX_DECLARATIONS} custom attributes; "
            "delete one you no longer use first."
        )
    # Under the organization's lock no one declares beside us: the check is the answer
    # (the unique constraint on the folded name stays as the database's guarantee).
    if existing.filter(name__iexact=name).exists():
        raise InvalidValue(f"A custom attribute named {name} is already declared.")
    attribute = CustomAttribute.objects.create(
        organization=locked,
        name=name,
        type=type,
        multi_valued=multi_valued,
        description=description,
        indexed=indexed,
    )
    _bump_version(organization, locked)
    _audit(
        attribute,
        actor=actor,
        action=AuditAction.CUSTOM_ATTRIBUTE_DECLARED,
        changes=_described(attribute),
    )
    return attribute


@atomic()
def custom_attribute_change(
    *,
    attribute: CustomAttribute,
    actor: Actor,
    acting_user: User | None,
    description: str,
    indexed: bool,
) -> CustomAttribute:
    """Change the description or whether filters may use the attribute; a no-op when
    neither changes."""
    organization = attribute.organization
    check_may_declare_attributes(acting_user, actor, organization)
    description = _description(description)
    locked = _locked_organization(organization)
    attribute = CustomAttribute.objects.select_for_update().get(pk=attribute.pk)
    attribute.organization = locked
    changes = {
        field: {"from": getattr(attribute, field), "to": value}
        for field, value in (("description", description), ("indexed", indexed))
        if getattr(attribute, field) != value
    }
    if not changes:
        return attribute
    attribute.description = description
    attribute.indexed = indexed
    attribute.save(update_fields=["description", "indexed"])
    _bump_version(organization, locked)
    if "indexed" in changes:
        _rewrite_values(locked, attribute.name, purge=False)
    _audit(attribute, actor=actor, action=AuditAction.CUSTOM_ATTRIBUTE_CHANGED, changes=changes)
    return attribute


@atomic()
def custom_attribute_delete(
    *, attribute: CustomAttribute, actor: Actor, acting_user: User | None
) -> int:
    """Delete the declaration and purge its values; returns how many users held one."""
    organization = attribute.organization
    check_may_declare_attributes(acting_user, actor, organization)
    locked = _locked_organization(organization)
    attribute = CustomAttribute.objects.select_for_update().filter(pk=attribute.pk).first()
    if attribute is None:
        return 0
    attribute.organization = locked
    described = _described(attribute)
    attribute_id = attribute.pk
    attribute.delete()
    attribute.pk = attribute_id
    _bump_version(organization, locked)
    purged = _rewrite_values(locked, described["name"], purge=True)
    _audit(
        attribute,
        actor=actor,
        action=AuditAction.CUSTOM_ATTRIBUTE_DELETED,
        changes={**described, "values_purged": purged},
    )
    return purged


def _rewrite_values(organization: Organization, name: str, *, purge: bool) -> int:
    """Recompute the search strings of every user holding a value of `name` under the
    current declarations; with `purge`, remove the value first (a changed resource: its
    version and lastModified move). Returns how many users held a value."""
    declared = load_declared(organization.pk)
    holders = User.objects.filter(organization=organization, custom_attributes__has_key=name)
    ids = list(holders.order_by("pk").values_list("pk", flat=True))
    now = timezone.now()
    for start in range(0, len(ids), REWRITE_BATCH):
        batch = list(
            User.objects.select_for_update().filter(pk__in=ids[start : start + REWRITE_BATCH])
        )
        fields = ["custom_search"]
        for user in batch:
            if purge:
                user.custom_attributes = {
                    key: value for key, value in user.custom_attributes.items() if key != name
                }
                user.version += 1
                user.updated_at = now
            user.custom_search = search_tokens(user.custom_attributes, declared)
        if purge:
            fields += ["custom_attributes", "version", "updated_at"]
        User.objects.bulk_update(batch, fields)
    return len(ids)
