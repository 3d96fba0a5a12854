from django.db import migrations

INDEX = "user_phone_values_idx"
# As provisioning.value_filters names and reads it; kept here as it was when the index
# was made, since a migration must not change when the code does.
VALUES_FUNCTION = "roster_scim_values"
# Every non-empty "value" of a JSON list of objects, lower-cased; '{}' for anything else.
VALUES_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION roster_scim_values(items jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT lower(item ->> 'value')), '{}')
    FROM jsonb_array_elements(
        CASE jsonb_typeof(items) WHEN 'array' THEN items ELSE '[]'::jsonb END
    ) AS item
    WHERE jsonb_typeof(item) = 'object' AND coalesce(item ->> 'value', '') <> ''
$$
"""


def create_index(apps, schema_editor):
    """phoneNumbers filters compare every value (provisioning.value_filters).

    PostgreSQL only: elsewhere the filter reads each value of the organization's users.
    The index is on the users' table because the values live in its `profile` column;
    it belongs to the SCIM filters, which are its only readers.
    """
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(VALUES_FUNCTION_SQL)
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON accounts_user "
        f"USING gin ({VALUES_FUNCTION}((profile -> 'phoneNumbers')))"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {VALUES_FUNCTION}(jsonb)")


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0003_token_hash_key_id"),
        ("accounts", "0011_scim_profile_and_filter_indexes"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
