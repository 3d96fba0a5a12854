from django.db import IntegrityError, transaction
from django.utils.text import slugify

from accounts.actors import Actor
from accounts.errors import InvalidValue, OrganizationSlugTaken
from accounts.models import AuditAction, Organization
from accounts.services.audit import audit_record


@transaction.atomic
def organization_create(*, slug: str, name: str, actor: Actor) -> Organization:
    if not slug or slugify(slug) != slug:
        raise InvalidValue(f"Organization slug {slug!r} must be lower-case letters, digits and -.")
    if not name.strip():
        raise InvalidValue("Organization name must not be empty.")
    for field, value in (("slug", slug), ("name", name.strip())):
        max_length = Organization._meta.get_field(field).max_length
        if len(value) > max_length:
            raise InvalidValue(f"Organization {field} is longer than {max_length} characters.")
    if Organization.objects.filter(slug=slug).exists():
        raise OrganizationSlugTaken(slug)
    try:
        with transaction.atomic():
            organization = Organization.objects.create(slug=slug, name=name.strip())
    except IntegrityError:
        raise OrganizationSlugTaken(slug) from None
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditAction.ORGANIZATION_CREATED,
        target_type="organization",
        target_id=organization.pk,
        target_label=organization.slug,
        changes={"slug": slug, "name": organization.name},
    )
    return organization


@transaction.atomic
def organization_set_sso_required(
    *, organization: Organization, required: bool, actor: Actor
) -> Organization:
    """Record whether members and admins must sign in with single sign-on; audited.

    The conditions for turning it on (an owner, a working SSO sign-in) belong to single
    sign-on and are checked by its caller, sso.services.sso_requirement_set.
    """
    locked = Organization.objects.select_for_update().get(pk=organization.pk)
    organization.sso_required = required
    if locked.sso_required == required:
        return locked
    locked.sso_required = required
    locked.save(update_fields=["sso_required"])
    audit_record(
        organization=locked,
        actor=actor,
        action=AuditAction.SSO_REQUIREMENT_CHANGED,
        target_type="organization",
        target_id=locked.pk,
        target_label=locked.slug,
        changes={"sso_required": {"from": not required, "to": required}},
    )
    return locked
