"""Every writable User attribute of the attribute table round-trips: what a client POSTs,
PUTs or PATCHes is what GET returns (RFC 7643 §4.1, §4.3; RFC 7644 §3.5)."""

import pytest

from provisioning import attributes as table
from provisioning.attributes import BOOLEAN, COMPLEX, CORE_USER, USER, sub_attributes
from tests.provisioning.idp_payloads import database_state, scim_error

pytestmark = pytest.mark.django_db

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# sshPublicKeys takes OpenSSH public keys only, and has tests of its own
# (test_ssh_public_keys.py).
ELSEWHERE = (table.SERVER, table.DISCARDED, table.SSH_KEYS)
WRITABLE = [
    a
    for a in table.top_level(USER)
    if a.writable and a.stored not in ELSEWHERE and a.name != "userName"
]
MULTI_VALUED = [a for a in WRITABLE if a.multi_valued]
OPTIONAL = [a for a in WRITABLE if not a.required]


def _id(attribute) -> str:
    return attribute.name if attribute.schema == CORE_USER else f"enterprise:{attribute.name}"


def sample(attribute, n: int = 0):
    """A value for `attribute` made from the table alone; `n` makes different ones."""
    if attribute.type == BOOLEAN:
        return n % 2 == 0
    if attribute.type == COMPLEX and attribute.multi_valued:
        return [item(attribute, n, primary=True), item(attribute, n + 1, primary=False)]
    if attribute.type == COMPLEX:
        return {sub.sub: sample(sub, n) for sub in sub_attributes(attribute) if sub.writable}
    if attribute.canonical_values:
        return attribute.canonical_values[n % len(attribute.canonical_values)]
    return f"{attribute.path}-{n}"


def item(attribute, n: int, *, primary: bool) -> dict:
    value = {}
    for sub in sub_attributes(attribute):
        if sub.sub == "primary":
            value["primary"] = primary
        elif sub.sub == "type":
            value["type"] = f"type-{n}"
        else:
            value[sub.sub] = sample(sub, n)
    return value


def key(attribute) -> str:
    """The attribute's name as a body key: URN-qualified for the extension."""
    if attribute.schema == CORE_USER:
        return attribute.name
    return f"{attribute.schema}:{attribute.name}"


def mixed_case(value):
    """The same value with every attribute name in upper case (RFC 7643 §2.1)."""
    if isinstance(value, dict):
        return {k.upper(): mixed_case(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mixed_case(v) for v in value]
    return value


def read(body: dict, attribute):
    if attribute.schema != CORE_USER:
        body = body.get(attribute.schema, {})
    return body.get(attribute.name)


def created(scim, attribute, value, name=None):
    body = {
        "schemas": [CORE_USER],
        "userName": "round.trip@example.com",
        (name or key(attribute)): value,
    }
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.content
    return response.json()


def fetched(scim, user_id):
    response = scim.get(f"/Users/{user_id}")
    assert response.status_code == 200, response.content
    return response.json()


def patched(scim, user_id, *operations):
    response = scim.patch(
        f"/Users/{user_id}", {"schemas": [PATCH_OP], "Operations": list(operations)}
    )
    assert response.status_code == 200, response.content
    return response.json()


def path_of(attribute, text: str) -> str:
    """A PATCH path in odd case, URN-qualified (in lower case) for the extension."""
    if attribute.schema == CORE_USER:
        return text.swapcase()
    return f"{attribute.schema.lower()}:{text.swapcase()}"


@pytest.mark.parametrize("attribute", WRITABLE, ids=_id)
def test_post_then_get_returns_the_value(scim, attribute):
    value = sample(attribute)
    body = created(scim, attribute, value)
    assert read(body, attribute) == value
    assert read(fetched(scim, body["id"]), attribute) == value


@pytest.mark.parametrize("attribute", WRITABLE, ids=_id)
def test_names_in_any_case_are_stored_under_their_schema_names(scim, attribute):
    value = sample(attribute)
    body = created(scim, attribute, mixed_case(value), name=key(attribute).upper())
    assert read(fetched(scim, body["id"]), attribute) == value


@pytest.mark.parametrize("attribute", WRITABLE, ids=_id)
def test_put_replaces_the_value(scim, attribute):
    user = created(scim, attribute, sample(attribute))
    changed = sample(attribute, 3)
    body = {"schemas": [CORE_USER], "userName": user["userName"], key(attribute): changed}
    response = scim.put(f"/Users/{user['id']}", body)
    assert response.status_code == 200, response.content
    assert read(response.json(), attribute) == changed
    assert read(fetched(scim, user["id"]), attribute) == changed


@pytest.mark.parametrize("attribute", OPTIONAL, ids=_id)
def test_put_without_the_attribute_clears_it(scim, attribute):
    user = created(scim, attribute, sample(attribute))
    body = {"schemas": [CORE_USER], "userName": user["userName"]}
    assert scim.put(f"/Users/{user['id']}", body).status_code == 200
    assert read(fetched(scim, user["id"]), attribute) is None


@pytest.mark.parametrize("attribute", WRITABLE, ids=_id)
def test_patch_replace_with_a_path_in_any_case(scim, attribute):
    user = created(scim, attribute, sample(attribute))
    changed = sample(attribute, 3)
    op = {"op": "replace", "path": path_of(attribute, attribute.name), "value": changed}
    assert read(patched(scim, user["id"], op), attribute) == changed
    assert read(fetched(scim, user["id"]), attribute) == changed


@pytest.mark.parametrize("attribute", WRITABLE, ids=_id)
def test_patch_pathless_replace_with_mixed_case_names(scim, attribute):
    user = created(scim, attribute, sample(attribute))
    changed = sample(attribute, 3)
    op = {"op": "Replace", "value": {key(attribute).upper(): mixed_case(changed)}}
    patched(scim, user["id"], op)
    stored = read(fetched(scim, user["id"]), attribute)
    if attribute.type == COMPLEX and not attribute.multi_valued:
        # RFC 7644 §3.5.2.3: the named sub-attributes replace, the others stay.
        assert stored == {**sample(attribute), **changed}
    else:
        assert stored == changed


@pytest.mark.parametrize("attribute", OPTIONAL, ids=_id)
def test_patch_remove(scim, attribute):
    user = created(scim, attribute, sample(attribute))
    body = patched(scim, user["id"], {"op": "remove", "path": path_of(attribute, attribute.name)})
    assert read(body, attribute) is None
    assert read(fetched(scim, user["id"]), attribute) is None


@pytest.mark.parametrize("attribute", MULTI_VALUED, ids=_id)
def test_patch_add_appends_without_repeating_an_equal_value(scim, attribute):
    first, second = sample(attribute)
    user = created(scim, attribute, [first])
    op = {"op": "add", "path": path_of(attribute, attribute.name), "value": [first, second]}
    patched(scim, user["id"], op)
    assert read(fetched(scim, user["id"]), attribute) == [first, second]


@pytest.mark.parametrize("attribute", MULTI_VALUED, ids=_id)
def test_patch_replace_with_a_value_filter_changes_only_the_matched_value(scim, attribute):
    first, second = sample(attribute)
    user = created(scim, attribute, [first, second])
    sub = next(s for s in sub_attributes(attribute) if s.sub not in ("type", "primary"))
    text = f'{attribute.name}[TYPE eq "{second["type"]}"].{sub.sub.upper()}'
    patched(scim, user["id"], {"op": "replace", "path": path_of(attribute, text), "value": "new"})
    assert read(fetched(scim, user["id"]), attribute) == [first, {**second, sub.sub: "new"}]


@pytest.mark.parametrize("attribute", MULTI_VALUED, ids=_id)
def test_patch_remove_with_a_value_filter_removes_only_the_matched_value(scim, attribute):
    first, second = sample(attribute)
    user = created(scim, attribute, [first, second])
    text = f'{attribute.name}[type eq "{first["type"]}"]'
    patched(scim, user["id"], {"op": "remove", "path": path_of(attribute, text)})
    assert read(fetched(scim, user["id"]), attribute) == [second]


@pytest.mark.parametrize("op", ["replace", "remove"])
@pytest.mark.parametrize("attribute", MULTI_VALUED, ids=_id)
def test_a_value_filter_that_matches_nothing_is_no_target(scim, attribute, op):
    user = created(scim, attribute, sample(attribute))
    before = database_state()
    text = f'{attribute.name}[type eq "absent"].{sub_attributes(attribute)[0].sub}'
    response = scim.patch(
        f"/Users/{user['id']}",
        {"schemas": [PATCH_OP], "Operations": [{"op": op, "path": text, "value": "x"}]},
    )
    scim_error(response, 400, "noTarget")
    assert database_state() == before


@pytest.mark.parametrize("attribute", MULTI_VALUED, ids=_id)
def test_the_last_primary_value_wins(scim, attribute):
    first, second = sample(attribute)
    body = created(scim, attribute, [first, {**second, "primary": True}])
    expected = [{**first, "primary": False}, {**second, "primary": True}]
    assert read(fetched(scim, body["id"]), attribute) == expected


@pytest.mark.parametrize("attribute", MULTI_VALUED, ids=_id)
def test_a_primary_written_by_patch_wins_over_the_old_one(scim, attribute):
    first, second = sample(attribute)
    user = created(scim, attribute, [first, second])
    text = f'{attribute.name}[type eq "{second["type"]}"].primary'
    patched(scim, user["id"], {"op": "replace", "path": path_of(attribute, text), "value": True})
    expected = [{**first, "primary": False}, {**second, "primary": True}]
    assert read(fetched(scim, user["id"]), attribute) == expected


@pytest.mark.parametrize("path", ["userName", "USERNAME", "active", f"{CORE_USER.upper()}:active"])
def test_removing_a_required_attribute_is_mutability(scim, make_user, organization, path):
    user = make_user(organization)
    before = database_state()
    response = scim.patch(
        f"/Users/{user.pk}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": path}]},
    )
    scim_error(response, 400, "mutability")
    assert database_state() == before


@pytest.mark.parametrize("path", ["id", "meta.created", "groups"])
def test_a_patch_path_naming_a_read_only_attribute_is_mutability(
    scim, make_user, organization, path
):
    user = make_user(organization)
    response = scim.patch(
        f"/Users/{user.pk}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": path, "value": "x"}]},
    )
    scim_error(response, 400, "mutability")
