"""A user created just in time at sign-in is a directory event like any other."""

from accounts.events.models import DirectoryEvent, EventType
from accounts.models import User
from sso.services import idp_configure
from tests.sso.conftest import post_acs


def test_jit_sign_in_writes_user_created(
    client, organization, saml_idp, idp, assertion_for, system_actor, acme_domain
):
    idp_configure(organization=organization, actor=system_actor, jit_provisioning=True)

    post_acs(client, organization, idp.response(assertion_for(name_id="new.person@acme.example")))

    user = User.objects.get(organization=organization, username="new.person@acme.example")
    event = DirectoryEvent.objects.get(resource_id=user.pk)
    assert (event.type, event.resource_version) == (EventType.USER_CREATED, 1)
    assert event.data["user"]["username"] == "new.person@acme.example"
