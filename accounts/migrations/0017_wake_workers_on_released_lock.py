"""Wake the job workers when a job that holds a lock finishes.

procrastinate's workers wake on a NOTIFY sent when a job is inserted, and otherwise
poll. A webhook delivery waits on its resource's lock (accounts.events.fanout) behind
the delivery ahead of it; when that one finishes, nothing was inserted, so the waiting
delivery was picked up only at a worker's next poll: one delivery per resource per
polling interval. This trigger sends, when a job with a lock leaves 'doing', the same
notification an insert sends, on the same channels, so an idle worker fetches at once.
PostgreSQL delivers it at the commit of the status change, when the lock is free.
"""

from django.conf import settings
from django.db import migrations

# The payload type procrastinate's worker acts on ("job_inserted" sets its new-job
# event, procrastinate.worker.Worker._handle_notification): for the worker, a job that
# can now run is the same as a new one.
CREATE = """
CREATE OR REPLACE FUNCTION roster_notify_lock_released() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    payload TEXT;
BEGIN
    SELECT json_build_object('type', 'job_inserted', 'job_id', NEW.id)::text INTO payload;
    PERFORM pg_notify('procrastinate_queue_v1#' || NEW.queue_name, payload);
    PERFORM pg_notify('procrastinate_any_queue_v1', payload);
    RETURN NEW;
END;
$$;

CREATE TRIGGER roster_notify_lock_released
    AFTER UPDATE OF status ON procrastinate_jobs
    FOR EACH ROW
    WHEN (
        OLD.status = 'doing' AND NEW.status <> 'doing' AND NEW.lock IS NOT NULL
    )
    EXECUTE PROCEDURE roster_notify_lock_released();
"""

DROP = """
DROP TRIGGER IF EXISTS roster_notify_lock_released ON procrastinate_jobs;
DROP FUNCTION IF EXISTS roster_notify_lock_released();
"""


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
    dependencies = [("accounts", "0016_sso_requirement")]
    if "procrastinate.contrib.django" in settings.INSTALLED_APPS:
        dependencies.append(("procrastinate", "0041_post_retry_failed_job"))

    operations = [migrations.RunPython(create, drop, elidable=False)]
