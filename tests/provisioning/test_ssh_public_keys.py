"""The Roster extension's sshPublicKeys: the SSH keys an identity provider manages.

Keys arrive as {"value": line} objects, plain strings, or one newline-separated string
(Entra's custom attributes are single strings); each write makes the IdP-managed set
exactly what the request leaves, and the person's own keys are never touched or shown.
"""

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import ActorType, AuditEvent, User
from tests.provisioning.idp_payloads import (
    ENTRA_CONTENT_TYPE,
    OKTA_CONTENT_TYPE,
    OKTA_HEADERS,
    PATCH_OP,
    USER_SCHEMA,
    scim_error,
)
from tests.transfer.conftest import new_public_key
from transfer.models import CredentialSource, SshKey
from transfer.services import ssh_key_add

pytestmark = pytest.mark.django_db

ROSTER = "urn:ietf:params:scim:schemas:extension:roster:2.0:User"
KEYS_PATH = f"{ROSTER}:sshPublicKeys"
DSA_LINE = "ssh-dss AAAAB3NzaC1kc3MAAACBAP8= laptop"
DSA_DETAIL = (
    "sshPublicKeys[1] (laptop): DSA keys are not accepted: OpenSSH disabled them; "
    "use an ed25519 key."
)


def as_objects(lines):
    return [{"value": line} for line in lines]


def as_strings(lines):
    return list(lines)


def as_one_string(lines):
    return "\n".join(lines)


SHAPES = pytest.mark.parametrize("shape", [as_objects, as_strings, as_one_string])


def ada_with_keys(value) -> dict:
    """A User body for ada@example.com carrying `value` as her sshPublicKeys."""
    return {
        "schemas": [USER_SCHEMA, ROSTER],
        "userName": "ada@example.com",
        ROSTER: {"sshPublicKeys": value},
    }


def patch(*operations):
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def idp_lines(user) -> list[str]:
    """The user's live IdP-managed keys as GET shows them."""
    keys = SshKey.objects.filter(user=user, source=CredentialSource.IDP, revoked_at=None)
    return [f"{key.public_key} {key.label}" for key in keys.order_by("created_at", "id")]


def shown(response) -> list[str]:
    # A multi-valued string, as /Schemas declares it.
    return response.json()[ROSTER]["sshPublicKeys"]


@pytest.fixture
def ada(organization, make_user):
    return make_user(organization, "ada@example.com", title="Analyst")


@pytest.fixture
def laptop():
    return new_public_key("laptop")


@pytest.fixture
def desktop():
    return new_public_key("desktop")


@pytest.fixture
def ada_keys(scim, ada, laptop, desktop):
    """ada with two IdP-managed keys."""
    body = patch({"op": "replace", "path": KEYS_PATH, "value": [laptop, desktop]})
    assert scim.patch(f"/Users/{ada.pk}", body).status_code == 200
    return [laptop, desktop]


# -- writing, in each shape -----------------------------------------------------------


@SHAPES
def test_post_makes_the_keys_idp_managed(scim, organization, shape, laptop, desktop):
    response = scim.post("/Users", ada_with_keys(shape([laptop, desktop])))

    assert response.status_code == 201
    user = User.objects.get(organization=organization)
    assert response.json()["schemas"] == [USER_SCHEMA, ROSTER]
    assert shown(response) == [laptop, desktop] == idp_lines(user)


@SHAPES
def test_put_makes_the_keys_exactly_those_sent(scim, ada, ada_keys, shape):
    _dropped, kept = ada_keys
    another = new_public_key("phone")

    response = scim.put(f"/Users/{ada.pk}", ada_with_keys(shape([kept, another])))

    assert response.status_code == 200
    assert shown(response) == [kept, another] == idp_lines(ada)


@SHAPES
def test_patch_replace_makes_the_keys_exactly_those_sent(scim, ada, ada_keys, shape):
    another = new_public_key("phone")

    response = scim.patch(
        f"/Users/{ada.pk}",
        patch({"op": "replace", "path": KEYS_PATH, "value": shape([another])}),
    )

    assert response.status_code == 200
    assert shown(response) == [another] == idp_lines(ada)


@SHAPES
def test_patch_add_adds_to_the_keys(scim, ada, ada_keys, shape):
    phone, tablet = new_public_key("phone"), new_public_key("tablet")

    response = scim.patch(
        f"/Users/{ada.pk}", patch({"op": "add", "path": KEYS_PATH, "value": shape([phone, tablet])})
    )

    assert response.status_code == 200
    assert shown(response) == [*ada_keys, phone, tablet] == idp_lines(ada)


@SHAPES
def test_patch_remove_with_a_value_removes_those_keys(scim, ada, ada_keys, shape):
    laptop, desktop = ada_keys

    response = scim.patch(
        f"/Users/{ada.pk}", patch({"op": "remove", "path": KEYS_PATH, "value": shape([laptop])})
    )

    assert response.status_code == 200
    assert shown(response) == [desktop] == idp_lines(ada)


def test_adding_a_key_already_managed_changes_nothing(scim, ada, ada_keys):
    before = AuditEvent.objects.count()

    response = scim.patch(
        f"/Users/{ada.pk}", patch({"op": "add", "path": KEYS_PATH, "value": ada_keys[:1]})
    )

    assert response.status_code == 200
    assert shown(response) == ada_keys
    assert AuditEvent.objects.count() == before


def test_patch_remove_without_a_value_removes_every_idp_key(scim, ada, ada_keys):
    response = scim.patch(f"/Users/{ada.pk}", patch({"op": "remove", "path": KEYS_PATH}))

    assert response.status_code == 200
    assert ROSTER not in response.json()
    assert response.json()["schemas"] == [USER_SCHEMA]
    assert idp_lines(ada) == []


def test_patch_remove_with_a_value_filter_removes_that_key(scim, ada, ada_keys):
    laptop, desktop = ada_keys
    # Keys compare by the key, not by the comment that came with it.
    without_comment = " ".join(laptop.split()[:2])

    response = scim.patch(
        f"/Users/{ada.pk}",
        patch({"op": "remove", "path": f'{KEYS_PATH}[value eq "{without_comment}"]'}),
    )

    assert response.status_code == 200
    assert shown(response) == [desktop] == idp_lines(ada)


def test_a_value_filter_matching_no_key_is_no_target(scim, ada, ada_keys):
    path = f'{KEYS_PATH}[value eq "{new_public_key("elsewhere")}"]'

    response = scim.patch(f"/Users/{ada.pk}", patch({"op": "remove", "path": path}))

    body = scim_error(response, 400, "noTarget")
    assert body["detail"] == f"{path!r} matches no value of sshPublicKeys."
    assert idp_lines(ada) == ada_keys


def test_a_value_filter_only_removes(scim, ada, ada_keys):
    path = f'{KEYS_PATH}[value eq "{ada_keys[0]}"]'

    response = scim.patch(
        f"/Users/{ada.pk}", patch({"op": "replace", "path": path, "value": ada_keys[1]})
    )

    body = scim_error(response, 400, "invalidPath")
    assert body["detail"] == f"{path!r}: a filter on sshPublicKeys only removes keys."


# -- PUT without the extension ------------------------------------------------------


def test_a_put_without_the_extension_leaves_the_keys(scim, ada, ada_keys):
    response = scim.put(
        f"/Users/{ada.pk}", {"schemas": [USER_SCHEMA], "userName": "ada@example.com"}
    )

    assert response.status_code == 200
    assert shown(response) == ada_keys == idp_lines(ada)


def test_a_put_declaring_the_extension_without_keys_clears_them(scim, ada, ada_keys):
    response = scim.put(
        f"/Users/{ada.pk}", {"schemas": [USER_SCHEMA, ROSTER], "userName": "ada@example.com"}
    )

    assert response.status_code == 200
    assert ROSTER not in response.json()
    assert idp_lines(ada) == []


def test_a_put_with_an_empty_extension_object_clears_them(scim, ada, ada_keys):
    response = scim.put(
        f"/Users/{ada.pk}",
        {"schemas": [USER_SCHEMA], "userName": "ada@example.com", ROSTER: {}},
    )

    assert response.status_code == 200
    assert idp_lines(ada) == []


# -- refusals write nothing -----------------------------------------------------------


@SHAPES
def test_a_bad_key_is_named_and_nothing_is_written(scim, ada, laptop, shape):
    audits = AuditEvent.objects.count()

    response = scim.patch(
        f"/Users/{ada.pk}",
        patch(
            {"op": "replace", "path": "title", "value": "Engineer"},
            {"op": "replace", "path": KEYS_PATH, "value": shape([laptop, DSA_LINE])},
        ),
    )

    body = scim_error(response, 400, "invalidValue")
    assert body["detail"] == DSA_DETAIL
    ada.refresh_from_db()
    assert ada.title == "Analyst"
    assert not SshKey.objects.exists()
    assert AuditEvent.objects.count() == audits


def test_a_bad_key_in_a_post_creates_no_user(scim, organization, laptop):
    audits = AuditEvent.objects.count()

    response = scim.post("/Users", ada_with_keys([laptop, DSA_LINE]))

    assert scim_error(response, 400, "invalidValue")["detail"] == DSA_DETAIL
    assert not User.objects.filter(organization=organization).exists()
    assert not SshKey.objects.exists()
    assert AuditEvent.objects.count() == audits


def test_a_private_key_is_refused_without_being_quoted(scim, ada):
    private = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"

    response = scim.patch(
        f"/Users/{ada.pk}", patch({"op": "replace", "path": KEYS_PATH, "value": [private]})
    )

    body = scim_error(response, 400, "invalidValue")
    assert body["detail"] == (
        "sshPublicKeys[0]: This is a private key. Paste the public key instead (the .pub "
        "file); never share the private key."
    )


def test_a_value_that_is_not_a_key_line_is_invalid(scim, ada):
    response = scim.patch(
        f"/Users/{ada.pk}", patch({"op": "replace", "path": KEYS_PATH, "value": [{"value": 42}]})
    )

    body = scim_error(response, 400, "invalidValue")
    assert body["detail"] == (
        'sshPublicKeys values are OpenSSH public key lines: strings or {"value": "<line>"} objects.'
    )


def test_a_key_registered_to_another_person_is_refused(
    scim, organization, make_user, ada, system_actor
):
    grace = make_user(organization, "grace@example.com")
    theirs = new_public_key("grace-laptop")
    ssh_key_add(user=grace, public_key=theirs, source=CredentialSource.PERSONAL, actor=system_actor)
    audits = AuditEvent.objects.count()

    response = scim.patch(
        f"/Users/{ada.pk}",
        patch(
            {"op": "replace", "path": "title", "value": "Engineer"},
            {"op": "add", "path": KEYS_PATH, "value": [theirs]},
        ),
    )

    body = scim_error(response, 400, "invalidValue")
    assert body["detail"] == "sshPublicKeys: This key is already registered to another person."
    ada.refresh_from_db()
    assert ada.title == "Analyst"  # the title was written first, and rolled back
    assert list(SshKey.objects.values_list("user_id", flat=True)) == [grace.pk]
    assert AuditEvent.objects.count() == audits


def test_a_console_managed_user_gets_no_keys_from_the_identity_provider(scim, org_owner, laptop):
    response = scim.patch(
        f"/Users/{org_owner.pk}", patch({"op": "add", "path": KEYS_PATH, "value": [laptop]})
    )

    assert scim_error(response, 403)["detail"] == (
        "owner@acme.example is managed in the console, not by the identity provider; "
        "an owner must link the user to the identity provider first."
    )
    assert not SshKey.objects.exists()


# -- the person's own keys ------------------------------------------------------------


def test_personal_keys_survive_a_replace_and_are_never_shown(scim, ada, ada_keys, system_actor):
    personal = new_public_key("my-own")
    ssh_key_add(user=ada, public_key=personal, source=CredentialSource.PERSONAL, actor=system_actor)
    another = new_public_key("phone")

    replaced = scim.patch(
        f"/Users/{ada.pk}", patch({"op": "replace", "path": KEYS_PATH, "value": [another]})
    )
    removed = scim.patch(f"/Users/{ada.pk}", patch({"op": "remove", "path": KEYS_PATH}))

    assert shown(replaced) == [another]
    assert ROSTER not in removed.json()
    assert ROSTER not in scim.get(f"/Users/{ada.pk}").json()
    live = SshKey.objects.filter(user=ada, revoked_at=None)
    assert [(k.label, k.source) for k in live] == [("my-own", CredentialSource.PERSONAL)]


def test_keys_written_over_scim_are_audited_as_the_token(scim, ada, laptop):
    scim.patch(f"/Users/{ada.pk}", patch({"op": "add", "path": KEYS_PATH, "value": [laptop]}))

    event = AuditEvent.objects.latest("id")
    assert (event.action, event.actor_type) == ("credential.created", ActorType.TOKEN)
    assert event.changes["credential"]["source"] == CredentialSource.IDP


# -- reading --------------------------------------------------------------------------


def test_get_returns_the_idp_keys_in_the_extension(scim, ada, ada_keys):
    response = scim.get(f"/Users/{ada.pk}")

    ada.refresh_from_db()
    location = f"{settings.PUBLIC_BASE_URL}/scim/v2/Users/{ada.pk}"
    assert response.json() == {
        "schemas": [USER_SCHEMA, ROSTER],
        "id": str(ada.pk),
        "userName": "ada@example.com",
        "title": "Analyst",
        "active": True,
        "emails": [{"value": "ada@example.com", "type": "work", "primary": True}],
        ROSTER: {"sshPublicKeys": list(ada_keys)},
        "groups": [],
        "meta": {
            "resourceType": "User",
            "created": ada.created_at.isoformat(),
            "lastModified": ada.updated_at.isoformat(),
            "location": location,
            "version": f'W/"{ada.version}"',
        },
    }
    # Stored as `type base64`, shown with the comment the key came with.
    assert [line.split()[2] for line in shown(response)] == ["laptop", "desktop"]


def test_a_user_without_idp_keys_has_no_extension(scim, ada):
    body = scim.get(f"/Users/{ada.pk}").json()

    assert body["schemas"] == [USER_SCHEMA]
    assert ROSTER not in body


def test_list_responses_carry_the_keys(scim, ada, ada_keys, organization, make_user):
    make_user(organization, "bob@example.com")

    body = scim.get("/Users", sortBy="userName").json()

    assert [r.get(ROSTER) for r in body["Resources"]] == [{"sshPublicKeys": list(ada_keys)}, None]


def test_the_keys_can_be_left_out_of_an_answer(scim, ada, ada_keys):
    body = scim.get(f"/Users/{ada.pk}", excludedAttributes=KEYS_PATH).json()

    assert ROSTER not in body


def list_queries(scim, count):
    scim.get("/Users", count=1)  # the token's last-used write
    with CaptureQueriesContext(connection) as context:
        body = scim.get("/Users", count=count).json()
    return len(context.captured_queries), body


def test_a_page_of_users_with_keys_loads_them_in_one_query(
    scim, organization, make_user, system_actor
):
    for i in range(12):
        user = make_user(organization, f"u{i}@example.com")
        ssh_key_add(
            user=user, public_key=new_public_key(), source=CredentialSource.IDP, actor=system_actor
        )

    small, _ = list_queries(scim, 2)
    large, body = list_queries(scim, 10)

    assert small == large
    assert all(len(r[ROSTER]["sshPublicKeys"]) == 1 for r in body["Resources"])


# -- discovery ------------------------------------------------------------------------


ROSTER_SCHEMA = {
    "id": ROSTER,
    "name": "Roster User",
    "description": "Roster's additions to the User: the SSH public keys for file transfer "
    "that the identity provider manages.",
    "attributes": [
        {
            "name": "sshPublicKeys",
            "type": "string",
            "multiValued": True,
            "description": "The person's SSH public keys for file transfer that the identity "
            "provider manages, each one OpenSSH public key line (type, base64 key, comment).",
            "required": False,
            "caseExact": True,
            "mutability": "readWrite",
            "returned": "default",
            "uniqueness": "none",
        }
    ],
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    "meta": {
        "resourceType": "Schema",
        "location": f"{settings.PUBLIC_BASE_URL}/scim/v2/Schemas/{ROSTER}",
    },
}


def test_schemas_list_the_extension(scim):
    body = scim.get("/Schemas").json()

    assert next(s for s in body["Resources"] if s["id"] == ROSTER) == ROSTER_SCHEMA


def test_the_extension_schema_can_be_fetched_alone(scim):
    assert scim.get(f"/Schemas/{ROSTER}").json() == ROSTER_SCHEMA


def test_the_user_resource_type_names_the_extension(scim):
    body = scim.get("/ResourceTypes/User").json()

    assert body["schemaExtensions"] == [
        {"schema": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "required": False},
        {"schema": ROSTER, "required": False},
    ]


# -- the identity providers' own shapes ------------------------------------------------


def test_okta_pathless_replace_with_the_extension_object(scim, ada, ada_keys):
    """Okta sends a profile update as one path-less replace carrying the extension."""
    another = new_public_key("okta-laptop")

    response = scim.patch(
        f"/Users/{ada.pk}",
        patch(
            {
                "op": "replace",
                "value": {"title": "Engineer", ROSTER: {"sshPublicKeys": [another]}},
            }
        ),
        headers=OKTA_HEADERS,
        content_type=OKTA_CONTENT_TYPE,
    )

    assert response.status_code == 200
    assert response.json()["title"] == "Engineer"
    assert shown(response) == [another] == idp_lines(ada)


def test_entra_replace_with_one_string_holding_two_keys(scim, ada, ada_keys):
    """Entra's custom attributes are single strings: an administrator keeps several keys
    in one, separated by newlines (CRLF here), on the URN-prefixed path."""
    first, second = new_public_key("entra-1"), new_public_key("entra-2")

    response = scim.patch(
        f"/Users/{ada.pk}",
        patch({"op": "Replace", "path": KEYS_PATH, "value": f"{first}\r\n{second}"}),
        content_type=ENTRA_CONTENT_TYPE,
    )

    assert response.status_code == 200
    assert shown(response) == [first, second] == idp_lines(ada)


def test_entra_pathless_replace_with_a_urn_prefixed_key(scim, ada):
    first, second = new_public_key("entra-1"), new_public_key("entra-2")

    response = scim.patch(
        f"/Users/{ada.pk}",
        patch({"op": "Replace", "value": {KEYS_PATH: f"{first}\n{second}"}}),
        content_type=ENTRA_CONTENT_TYPE,
    )

    assert response.status_code == 200
    assert shown(response) == [first, second] == idp_lines(ada)


def test_a_key_the_person_added_is_adopted_when_the_idp_sends_it(scim, ada, system_actor):
    line = new_public_key("mine")
    ssh_key_add(user=ada, public_key=line, source=CredentialSource.PERSONAL, actor=system_actor)
    version = ada.version

    response = scim.patch(
        f"/Users/{ada.pk}", patch({"op": "replace", "path": KEYS_PATH, "value": [line]})
    )

    assert response.status_code == 200
    key = SshKey.objects.get(user=ada, revoked_at=None)
    assert key.source == CredentialSource.IDP
    assert shown(response) == [line]
    assert response.json()["meta"]["version"] == f'W/"{version + 1}"'


def test_a_key_change_moves_the_etag_once(scim, ada, ada_keys):
    before = scim.get(f"/Users/{ada.pk}").json()["meta"]["version"]

    after = scim.patch(
        f"/Users/{ada.pk}", patch({"op": "replace", "path": KEYS_PATH, "value": ada_keys[:1]})
    ).json()["meta"]["version"]
    again = scim.patch(
        f"/Users/{ada.pk}", patch({"op": "replace", "path": KEYS_PATH, "value": ada_keys[:1]})
    ).json()["meta"]["version"]

    assert int(after[3:-1]) == int(before[3:-1]) + 1
    assert again == after
