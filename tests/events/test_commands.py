"""create_api_key: the secret alone on the last line, the key findable by it."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.events.selectors import api_key_for_secret

pytestmark = pytest.mark.django_db


def test_create_api_key_prints_the_secret_alone_on_the_last_line(organization):
    out = io.StringIO()
    call_command("create_api_key", organization.slug, "--label", "File service", stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]
    key = api_key_for_secret(secret)
    assert (key.organization, key.label) == (organization, "File service")


def test_create_api_key_for_an_unknown_organization_is_a_clear_error():
    with pytest.raises(CommandError, match="No organization with slug 'nowhere'"):
        call_command("create_api_key", "nowhere", "--label", "x", stdout=io.StringIO())
