from accounts.models import AuditEvent


def test_user_created_through_service_is_audited(organization, make_user):
    user = make_user(organization, "Ada@Example.com")
    assert AuditEvent.objects.filter(target_id=str(user.pk), action="user.created").count() == 1
