"""Okta's lifecycle over SCIM changes the very next file-server login, with no wait."""

from django.test import Client

from tests.transfer.conftest import DecisionClient
from transfer.models import TransferMode
from transfer.services import transfer_policy_set

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(scim, path, *operations, status):
    response = scim.patch(path, {"schemas": [PATCH], "Operations": list(operations)})
    assert response.status_code == status, response.content
    return response


def test_deactivation_reactivation_and_group_removal_over_scim_take_effect_at_once(
    scim, org_key, organization, bob, bob_key, bob_password, make_group, system_actor
):
    server = DecisionClient(Client(), org_key[1])
    finance = make_group(organization, "Finance", members=[bob])
    transfer_policy_set(
        organization=organization, mode=TransferMode.GROUPS, groups=[finance], actor=system_actor
    )

    def reasons():
        by_key = server.authenticate("bob@acme.example", public_key=bob_key[1])
        by_password = server.authenticate("bob@acme.example", password=bob_password[1])
        return [r.json().get("reason", "allowed") for r in (by_key, by_password)]

    assert reasons() == ["allowed", "allowed"]

    patch(scim, f"/Users/{bob.pk}", {"op": "replace", "value": {"active": False}}, status=200)
    assert reasons() == ["inactive", "inactive"]

    patch(scim, f"/Users/{bob.pk}", {"op": "replace", "path": "active", "value": True}, status=200)
    assert reasons() == ["allowed", "allowed"]

    patch(
        scim,
        f"/Groups/{finance.pk}",
        {"op": "remove", "path": f'members[value eq "{bob.pk}"]'},
        status=204,
    )
    assert reasons() == ["not_in_scope", "not_in_scope"]

    patch(
        scim,
        f"/Groups/{finance.pk}",
        {"op": "add", "path": "members", "value": [{"value": str(bob.pk)}]},
        status=204,
    )
    assert reasons() == ["allowed", "allowed"]

    assert scim.delete(f"/Users/{bob.pk}").status_code == 204
    assert reasons() == ["unknown_user", "unknown_user"]


def test_replacing_the_idps_keys_with_none_refuses_the_key_at_once(
    scim, org_key, organization, bob, bob_key, bob_password, transfer_on
):
    server = DecisionClient(Client(), org_key[1])
    keys_path = "urn:ietf:params:scim:schemas:extension:roster:2.0:User:sshPublicKeys"

    patch(scim, f"/Users/{bob.pk}", {"op": "replace", "path": keys_path, "value": []}, status=200)

    by_key = server.authenticate("bob@acme.example", public_key=bob_key[1])
    by_password = server.authenticate("bob@acme.example", password=bob_password[1])
    assert (by_key.status_code, by_key.json()["reason"]) == (403, "bad_credential")
    assert by_password.status_code == 200
