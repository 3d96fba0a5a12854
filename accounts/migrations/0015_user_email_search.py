from django.db import migrations, models

from accounts.email_search import KEYS_FUNCTION, SUBSTRING_KEYS_SQL, search_text

BATCH = 2000
INDEX = "user_email_search_keys_idx"


def fill(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    batch = []
    for user in User.objects.only("profile").iterator(chunk_size=BATCH):
        profile = user.profile if isinstance(user.profile, dict) else {}
        user.email_search = search_text(profile.get("emails"))
        if user.email_search:
            batch.append(user)
        if len(batch) == BATCH:
            User.objects.bulk_update(batch, ["email_search"])
            batch = []
    User.objects.bulk_update(batch, ["email_search"])


def create_index(apps, schema_editor):
    # PostgreSQL only: elsewhere the LIKE on the column answers alone (accounts.email_search).
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(SUBSTRING_KEYS_SQL)
    # fastupdate off: each write puts its keys in the index at once (about half a
    # millisecond per user), so a search never reads a pending list of unsorted
    # entries, which the planner also counts against the index.
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON accounts_user "
        f"USING gin ({KEYS_FUNCTION}(email_search)) WITH (fastupdate = off)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {KEYS_FUNCTION}(text)")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0014_organization_domains")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="email_search",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RunPython(create_index, drop_index),
    ]
