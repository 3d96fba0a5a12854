from django.db import migrations, models


class Migration(migrations.Migration):
    """The id of the hash key each API-key digest was made with.

    Existing digests were made with a key derived from SECRET_KEY for the purpose
    "roster.api-key-digest.v1", which is exactly what the hash key `secret-key` derives
    (accounts.derived_keys), so every existing key keeps working.
    """

    dependencies = [
        ("accounts", "0012_rate_limit_counters"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="key_id",
            field=models.CharField(default="secret-key", max_length=32),
            preserve_default=False,
        ),
    ]
