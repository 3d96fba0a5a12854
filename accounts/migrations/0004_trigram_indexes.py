from django.db import migrations

# SCIM `co`/`sw`/`ew` filters on emails and userName compile to
# UPPER(column::text) LIKE UPPER(%s); a trigram GIN index on that expression serves
# them without a scan of the organization's users. PostgreSQL only (pg_trgm is a
# trusted extension since PostgreSQL 13, so the database owner may create it).
INDEXES = {
    "user_email_upper_trgm_idx": "email",
    "user_username_upper_trgm_idx": "username",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON accounts_user "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_scim_name_formatted_email_type")]

    operations = [migrations.RunPython(create, drop)]
