"""The worker's file-transfer jobs (procrastinate): the sign-in log purge."""

from django.db import close_old_connections
from procrastinate.contrib.django import app

from transfer.services import transfer_sign_ins_purge


# Daily, off the other purges' minutes (03:17 events, 03:47 SCIM requests).
@app.periodic(cron="57 3 * * *", periodic_id="transfer_sign_ins.purge")
@app.task(
    name="transfer_sign_ins.purge", queue="maintenance", queueing_lock="transfer_sign_ins.purge"
)
def purge_transfer_sign_ins(timestamp: int) -> int:
    close_old_connections()
    try:
        return transfer_sign_ins_purge()
    finally:
        close_old_connections()
