"""The worker's provisioning jobs (procrastinate): the SCIM request log purge."""

from django.db import close_old_connections
from procrastinate.contrib.django import app

from provisioning.services import scim_requests_purge


# Daily, off the events purge's minute (03:17) so the two batches do not contend.
@app.periodic(cron="47 3 * * *", periodic_id="scim_requests.purge")
@app.task(name="scim_requests.purge", queue="maintenance", queueing_lock="scim_requests.purge")
def purge_scim_requests(timestamp: int) -> int:
    close_old_connections()
    try:
        return scim_requests_purge()
    finally:
        close_old_connections()
