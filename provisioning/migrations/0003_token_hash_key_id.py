from django.db import migrations, models


class Migration(migrations.Migration):
    """The id of the hash key each provisioning-token digest was made with.

    Existing digests were made before hash keys had ids (SCIM_TOKEN_HASH_KEY, or a
    SHA-256 of SECRET_KEY): `_legacy` names that derivation (provisioning.tokens), so
    every existing token keeps working until it is re-issued.
    """

    dependencies = [
        ("provisioning", "0002_scim_request_log"),
    ]

    operations = [
        migrations.AddField(
            model_name="provisioningtoken",
            name="key_id",
            field=models.CharField(default="_legacy", max_length=32),
            preserve_default=False,
        ),
    ]
