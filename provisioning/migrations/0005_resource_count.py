import django.db.models.deletion
from django.db import migrations, models

# As provisioning.counts reads them; kept here as they were when the triggers were made,
# since a migration must not change when the code does.
TABLE = "provisioning_resourcecount"
COUNTED = {"User": "accounts_user", "Group": "accounts_group"}

# Statement-level triggers with transition tables: one row per statement and
# organization, also for COPY and for a bulk INSERT or DELETE.
FUNCTIONS_SQL = f"""
CREATE OR REPLACE FUNCTION roster_count_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {TABLE} (organization_id, resource, delta)
    SELECT organization_id, TG_ARGV[0], count(*) FROM inserted_rows
    WHERE organization_id IS NOT NULL GROUP BY organization_id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION roster_count_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {TABLE} (organization_id, resource, delta)
    SELECT organization_id, TG_ARGV[0], -count(*) FROM deleted_rows
    WHERE organization_id IS NOT NULL GROUP BY organization_id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION roster_count_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {TABLE} (organization_id, resource, delta)
    SELECT o, TG_ARGV[0], d FROM (VALUES (OLD.organization_id, -1), (NEW.organization_id, 1))
        AS moved (o, d)
    WHERE o IS NOT NULL;
    RETURN NULL;
END $$;
"""  # noqa: S608 (module constants only)


def _triggers_sql(resource: str, table: str) -> str:
    name = f"roster_count_{resource.lower()}"
    return f"""
CREATE TRIGGER {name}_inserted AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION roster_count_inserted('{resource}');
CREATE TRIGGER {name}_deleted AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION roster_count_deleted('{resource}');
CREATE TRIGGER {name}_moved AFTER UPDATE OF organization_id ON {table}
    FOR EACH ROW WHEN (OLD.organization_id IS DISTINCT FROM NEW.organization_id)
    EXECUTE FUNCTION roster_count_moved('{resource}');
INSERT INTO {TABLE} (organization_id, resource, delta)
    SELECT organization_id, '{resource}', count(*) FROM {table}
    WHERE organization_id IS NOT NULL GROUP BY organization_id;
"""  # noqa: S608 (module constants only)


def create_triggers(apps, schema_editor):
    """Count every insert and delete of users and groups where they happen.

    PostgreSQL only. The current counts are written after the triggers exist: creating
    a trigger locks its table against writes until this migration commits, so no row
    is counted twice or missed.
    """
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT rescount_organization_fk "
        f"FOREIGN KEY (organization_id) REFERENCES accounts_organization (id) "
        f"ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"
    )
    schema_editor.execute(FUNCTIONS_SQL)
    for resource, table in COUNTED.items():
        schema_editor.execute(_triggers_sql(resource, table))
    # The current counts just written leave the deferred foreign key's checks pending,
    # and PostgreSQL refuses the CREATE INDEX that Django runs at the end of this
    # migration while any are ("pending trigger events"): check them now.
    schema_editor.execute("SET CONSTRAINTS rescount_organization_fk IMMEDIATE")


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for resource, table in COUNTED.items():
        name = f"roster_count_{resource.lower()}"
        for event in ("inserted", "deleted", "moved"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}_{event} ON {table}")
    for function in ("roster_count_inserted", "roster_count_deleted", "roster_count_moved"):
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}()")
    schema_editor.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS rescount_organization_fk")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0020_index_jobs_by_lock"),
        ("provisioning", "0004_scim_values_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="ResourceCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("resource", models.CharField(max_length=8)),
                ("delta", models.BigIntegerField()),
                (
                    "organization",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="accounts.organization",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["organization", "resource", "id"], name="rescount_org_idx")
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
