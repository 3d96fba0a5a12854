"""The sign-in's reads, written out by hand, load exactly what the ORM loads."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Organization, User
from sso.models import SamlIdentityProvider, SpKeyPair, SpKeyState
from sso.selectors import organization_and_idp, sp_keys_of, user_for_saml_subject


def _columns(instance) -> dict:
    fields = type(instance)._meta.concrete_fields
    return {field.attname: getattr(instance, field.attname) for field in fields}


def _one_query(function, *args, **kwargs):
    with CaptureQueriesContext(connection) as context:
        result = function(*args, **kwargs)
    assert len(context.captured_queries) == 1
    return result


def test_the_organization_and_its_idp_are_one_query(organization, saml_idp):
    found_organization, found_idp = _one_query(organization_and_idp, organization.slug)
    expected = SamlIdentityProvider.objects.select_related("organization").get(pk=saml_idp.pk)
    assert _columns(found_idp) == _columns(expected)
    assert found_idp.certificates == expected.certificates  # JSON, as loaded by the ORM
    assert found_idp.organization is found_organization
    assert _columns(found_organization) == _columns(Organization.objects.get(pk=organization.pk))
    assert not found_idp._state.adding and not found_organization._state.adding


def test_an_organization_without_an_idp_is_still_found(organization):
    assert organization_and_idp(organization.slug) == (organization, None)


def test_an_unknown_slug_finds_nothing(organization, saml_idp):
    assert organization_and_idp("no-such-organization") == (None, None)


def test_the_sp_keys_are_the_active_and_next_pairs(organization, saml_idp):
    keys = _one_query(sp_keys_of, organization)
    expected = SpKeyPair.objects.filter(
        organization=organization, state__in=[SpKeyState.ACTIVE, SpKeyState.NEXT]
    )
    assert {state: _columns(key) for state, key in keys.items()} == {
        key.state: _columns(key) for key in expected
    }
    assert SpKeyState.ACTIVE in keys


def test_the_subject_finds_the_user_by_username_in_any_case(organization, member):
    (found,) = _one_query(
        user_for_saml_subject, organization, member.username.upper(), match_email=False
    )
    assert _columns(found) == _columns(User.objects.get(pk=member.pk))
    with CaptureQueriesContext(connection) as context:
        assert found.organization == organization
    assert context.captured_queries == []


def test_an_unknown_subject_finds_nobody(organization, member):
    assert user_for_saml_subject(organization, "nobody@acme.example", match_email=False) == []
