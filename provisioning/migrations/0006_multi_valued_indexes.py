from django.db import migrations

# RFC 7644 §3.4.2.2 filters on these multi-valued attributes compare every value, as
# phoneNumbers' do (migration 0004, provisioning.value_filters): one GIN index each on
# the same function. An attribute no one sends holds an empty list, a single entry.
ATTRIBUTES = {"ims": "user_ims_values_idx", "entitlements": "user_entitlement_values_idx",
              "roles": "user_role_values_idx"}  # fmt: skip


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for attribute, index in ATTRIBUTES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {index} ON accounts_user "
            f"USING gin (roster_scim_values((profile -> '{attribute}')))"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for index in ATTRIBUTES.values():
        schema_editor.execute(f"DROP INDEX IF EXISTS {index}")


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0005_resource_count")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
