"""An index on procrastinate's jobs by lock, then id, for the jobs still to run.

procrastinate's fetch skips a job when an earlier job with the same lock is waiting or
running; its own indexes lead with the id, so with a long backlog behind a few retrying
deliveries (a receiver's outage, accounts.events.fanout) each skipped job cost a walk
through the earlier ones, and a fetch that found nothing took long enough for workers to
miss their wake-ups. With this index that check is one probe; the deliveries queued
behind a job (accounts.events.fanout.deliveries_queued_behind) are read with it too.
"""

from django.conf import settings
from django.db import migrations

CREATE = """
CREATE INDEX IF NOT EXISTS roster_procrastinate_jobs_lock_id
    ON procrastinate_jobs (lock, id)
    WHERE status IN ('todo', 'doing') AND lock IS NOT NULL;
"""

DROP = "DROP INDEX IF EXISTS roster_procrastinate_jobs_lock_id;"


def _queue_installed(schema_editor) -> bool:
    # The queue exists on PostgreSQL only (config.settings installs procrastinate there).
    return schema_editor.connection.vendor == "postgresql"


def create(apps, schema_editor):
    if _queue_installed(schema_editor):
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if _queue_installed(schema_editor):
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0019_transfer_actions")]
    if "procrastinate.contrib.django" in settings.INSTALLED_APPS:
        dependencies.append(("procrastinate", "0041_post_retry_failed_job"))

    operations = [migrations.RunPython(create, drop, elidable=False)]
