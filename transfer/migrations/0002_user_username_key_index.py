"""An index on people's folded login names across organizations.

A platform-wide transfer key (one file server for every organization) looks a login
name up by `username_key` alone: the unique index is on (organization, username_key),
which cannot serve it, so each decision read every person on the platform. The index
belongs to the decision path that reads it (transfer.decisions.people_named).
"""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS user_username_key_idx "
    "ON accounts_user (username_key) WHERE organization_id IS NOT NULL"
)
DROP = "DROP INDEX IF EXISTS user_username_key_idx"


class Migration(migrations.Migration):
    dependencies = [
        ("transfer", "0001_initial"),
        ("accounts", "0011_scim_profile_and_filter_indexes"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP, elidable=False)]
