"""Custom user attributes: the declarations, the users' values and the index that
SCIM `eq` and `pr` filters on an indexed custom attribute read.

The index is one GIN index over `custom_search`, a JSON list of "<name>" and
"<name>=<folded value>" strings for the values of indexed attributes only
(accounts.custom_attributes.search_tokens): `custom_search @> '["costcenter=cc-7"]'`
is answered by it whatever the organization declared, without an index per
attribute. jsonb_path_ops, since containment is the one operator asked of it.
"""

import django.db.models.deletion
import django.db.models.functions.text
from django.db import migrations, models

INDEX = "user_custom_search_idx"


def create_index(apps, schema_editor):
    # PostgreSQL only: elsewhere the filter reads the list of each of the organization's
    # users (accounts.custom_attributes.SearchTokenIn).
    if schema_editor.connection.vendor != "postgresql":
        return
    # fastupdate off, as for the email search keys (migration 0015): a filter never reads
    # a pending list of unsorted entries.
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON accounts_user "
        "USING gin (custom_search jsonb_path_ops) WITH (fastupdate = off)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0020_index_jobs_by_lock"),
    ]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="custom_attributes_version",
            field=models.PositiveIntegerField(db_default=0, default=0, editable=False),
        ),
        migrations.AddField(
            model_name="user",
            name="custom_attributes",
            field=models.JSONField(blank=True, db_default={}, default=dict),
        ),
        migrations.AddField(
            model_name="user",
            name="custom_search",
            field=models.JSONField(blank=True, db_default=[], default=list, editable=False),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("organization.created", "Organization created"),
                    ("user.created", "User created"),
                    ("user.updated", "User updated"),
                    ("user.deactivated", "User deactivated"),
                    ("user.reactivated", "User reactivated"),
                    ("user.deleted", "User deleted"),
                    ("user.role_changed", "User role changed"),
                    ("user.idp_linked", "User linked to the identity provider"),
                    ("user.password_set", "User password set"),
                    ("group.created", "Group created"),
                    ("group.updated", "Group updated"),
                    ("group.deleted", "Group deleted"),
                    ("group.members_added", "Group members added"),
                    ("group.members_removed", "Group members removed"),
                    ("token.created", "Token created"),
                    ("token.revoked", "Token revoked"),
                    ("sso.configured", "Single sign-on configured"),
                    ("sso.login", "Single sign-on sign-in"),
                    ("sso.login_failed", "Single sign-on sign-in failed"),
                    ("console.login", "Console sign-in"),
                    ("console.login_failed", "Console sign-in failed"),
                    ("console.break_glass_login", "Console break-glass sign-in"),
                    ("sso.requirement_changed", "Single sign-on requirement changed"),
                    ("api_key.created", "API key created"),
                    ("api_key.revoked", "API key revoked"),
                    ("webhook.created", "Webhook endpoint added"),
                    ("webhook.updated", "Webhook endpoint updated"),
                    ("webhook.secret_rotated", "Webhook secret rotated"),
                    ("webhook.disabled", "Webhook endpoint disabled"),
                    ("webhook.test_sent", "Webhook test event sent"),
                    ("webhook.resent", "Webhook event resent"),
                    ("domain.added", "Domain added"),
                    ("domain.checked", "Domain checked"),
                    ("domain.verified", "Domain verified"),
                    ("domain.unverified", "Domain verification lost"),
                    ("domain.removed", "Domain removed"),
                    ("credential.created", "File-transfer credential added"),
                    ("credential.revoked", "File-transfer credential revoked"),
                    ("transfer_key.created", "Transfer key created"),
                    ("transfer_key.revoked", "Transfer key revoked"),
                    ("transfer.settings_changed", "File-transfer setting changed"),
                    ("transfer.folder_granted", "Folder granted"),
                    ("transfer.folder_removed", "Folder grant removed"),
                    ("transfer.login_refused", "File-transfer login refused"),
                    ("custom_attribute.declared", "Custom attribute declared"),
                    ("custom_attribute.changed", "Custom attribute changed"),
                    ("custom_attribute.deleted", "Custom attribute deleted"),
                ],
                max_length=64,
            ),
        ),
        migrations.CreateModel(
            name="CustomAttribute",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=64)),
                (
                    "type",
                    models.CharField(
                        choices=[
                            ("string", "String"),
                            ("boolean", "Boolean"),
                            ("integer", "Integer"),
                            ("dateTime", "Date and time"),
                            ("reference", "Reference (URL)"),
                        ],
                        max_length=16,
                    ),
                ),
                ("multi_valued", models.BooleanField(default=False)),
                ("description", models.CharField(blank=True, max_length=500)),
                ("indexed", models.BooleanField(default=False)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="custom_attributes",
                        to="accounts.organization",
                    ),
                ),
            ],
            options={
                "ordering": ["created_at", "id"],
                "constraints": [
                    models.UniqueConstraint(
                        django.db.models.functions.text.Lower("name"),
                        models.F("organization"),
                        name="custom_attribute_name_ci_unique_per_org",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("type__in", ["string", "boolean", "integer", "dateTime", "reference"])
                        ),
                        name="custom_attribute_type_valid",
                    ),
                ],
            },
        ),
        migrations.RunPython(create_index, drop_index),
    ]
