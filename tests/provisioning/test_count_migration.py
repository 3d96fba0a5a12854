"""The kept count's migration on a database that already holds people, as every
deployment that upgrades does (a fresh test database holds none)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import Organization, User
from provisioning import counts

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the count is PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]

BEFORE = [("provisioning", "0004_scim_values_index")]


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def test_the_count_migration_counts_the_people_already_there():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("provisioning")
    _migrate(BEFORE)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO accounts_organization (slug, name, sso_required, created_at, "
                "custom_attributes_version) VALUES ('old', 'Old', false, now(), 0) RETURNING id"
            )
            (organization_id,) = cursor.fetchone()
            cursor.execute(
                "INSERT INTO accounts_user (id, organization_id, username, username_key, "
                "password, is_superuser, is_staff, is_active, email, email_key, "
                "email_search, email_type, email_primary, given_name, family_name, "
                "name_formatted, display_name, external_id, title, locale, enterprise, "
                "profile, role, role_from_mapping, source, idp_linked, version, "
                "created_at, updated_at, custom_attributes, custom_search) "
                "SELECT gen_random_uuid(), %s, 'u' || n, 'u' || n, '!', false, false, true, "
                "'', '', '', '', false, '', '', '', '', '', '', '', '{}', '{}', 'member', "
                "false, 'scim', false, 1, now(), now(), '{}', '{}' "
                "FROM generate_series(1, 25) AS n",
                [organization_id],
            )
        # The failure this pins: "cannot CREATE INDEX ... it has pending trigger events".
        _migrate(latest)
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    organization = Organization.objects.get(slug="old")
    assert counts.tally(organization, counts.USER, User.objects.none()).total == 25
