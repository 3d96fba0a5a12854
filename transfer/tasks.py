"""The worker's file-transfer jobs (procrastinate): the sign-in log's drain and purge."""

from django.db import close_old_connections
from procrastinate.contrib.django import app

from transfer import sign_in_log
from transfer.services import transfer_sign_ins_purge


# Every minute: sign-in log rows buffered in Redis wait no longer than that.
@app.periodic(cron="* * * * *", periodic_id="transfer_sign_ins.drain")
@app.task(
    name="transfer_sign_ins.drain", queue="maintenance", queueing_lock="transfer_sign_ins.drain"
)
def drain_transfer_sign_ins(timestamp: int) -> int:
    close_old_connections()
    try:
        return sign_in_log.drain(wait=True)
    finally:
        close_old_connections()


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
