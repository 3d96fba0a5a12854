"""The replay store: each assertion id once per organization, purged after its expiry."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from sso.errors import LoginRefused
from sso.models import SamlAssertionUse
from sso.services import assertion_consume, assertion_uses_purge
from sso.validation import TrustedAssertion
from tests.sso.conftest import post_acs

pytestmark = pytest.mark.django_db


def _assertion(assertion_id="id-1", expires_in=dt.timedelta(minutes=7)):
    return TrustedAssertion(
        assertion_id=assertion_id,
        name_id="jane.doe@acme.example",
        name_id_format="",
        name_id_name_qualifier="",
        name_id_sp_name_qualifier="",
        session_index="",
        in_response_to="",
        expires_at=timezone.now() + expires_in,
    )


def test_an_assertion_id_is_accepted_once(organization):
    assertion_consume(organization=organization, assertion=_assertion())
    with pytest.raises(LoginRefused) as refused:
        assertion_consume(organization=organization, assertion=_assertion())
    assert refused.value.reason == "replayed"


def test_the_same_id_from_another_organizations_idp_is_not_a_replay(
    organization, other_organization
):
    assertion_consume(organization=organization, assertion=_assertion())
    assertion_consume(organization=other_organization, assertion=_assertion())
    assert SamlAssertionUse.objects.count() == 2


def test_expired_ids_are_purged_and_live_ones_kept(organization):
    SamlAssertionUse.objects.create(
        organization=organization,
        assertion_id="old",
        expires_at=timezone.now() - dt.timedelta(seconds=1),
    )
    SamlAssertionUse.objects.create(
        organization=organization,
        assertion_id="live",
        expires_at=timezone.now() + dt.timedelta(minutes=1),
    )

    assert assertion_uses_purge() == 1
    assert list(SamlAssertionUse.objects.values_list("assertion_id", flat=True)) == ["live"]


def test_purge_command(organization):
    SamlAssertionUse.objects.create(
        organization=organization,
        assertion_id="old",
        expires_at=timezone.now() - dt.timedelta(seconds=1),
    )
    call_command("purge_saml_assertions", stdout=None)
    assert not SamlAssertionUse.objects.exists()


def test_sign_in_keeps_the_id_until_expiry_plus_skew(
    client, organization, saml_idp, idp, member, assertion_for
):
    a = assertion_for(not_on_or_after=dt.timedelta(minutes=5))
    before = timezone.now()

    post_acs(client, organization, idp.response(a))

    use = SamlAssertionUse.objects.get(assertion_id=a.assertion_id)
    expected = before + dt.timedelta(minutes=5) + dt.timedelta(seconds=120)
    assert abs((use.expires_at - expected).total_seconds()) < 5
