"""The transfer sign-in log's writes: one row per login decision (docs/transfer.md).

Without Redis, a decision's row is written as it is made, in one statement. With Redis as
the shared cache (REDIS_URL), the row goes into a Redis list in the round trip that counts
the decision's rate limits (config.ratelimit.hit_all_appending), and rows reach the
database in batches (`drain`): by the request whose row completes a batch, by the worker
every minute, and before a page shows the log or a credential's last use, so no reader
sees the log behind. A decision is then one statement (its read) instead of two, and a
batch of rows one INSERT.

The list holds at most TRANSFER_LOG_BUFFER rows (0: every row is written at once); past
that, as when the worker has stopped, rows are written at once again. Rows wait in Redis
for about a minute at most while the worker runs, so a Redis server lost with its data
loses those. A drain that stops between the database's commit and Redis's trim writes
its batch again on the next drain: a row is never lost that way, at worst written twice.
"""

import functools
import json
import logging
import uuid
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError, connection, transaction
from django.db.models import Q
from prometheus_client.core import GaugeMetricFamily
from redis.exceptions import LockError, RedisError

from accounts import raw_rows as rows
from accounts.keyed_secrets import (
    LAST_USED_RESOLUTION,
    credential_mark_used,
    is_stale,
    mark_used_statement,
)
from accounts.models import Organization, User
from config import metrics, ratelimit
from transfer.models import AppPassword, CredentialKind, SshKey, TransferSignIn

logger = logging.getLogger(__name__)

BUFFER = "transfer:sign-ins"
# Rows per INSERT; the request whose row makes the list a multiple of this drains it.
BATCH = 200
# A drain holds its lock at most this long (it expires if the process dies holding it),
# and a page waits at most WAIT_SECONDS for another process's drain to finish (a batch
# takes milliseconds), then shows what the database holds.
LOCK_SECONDS = 30
WAIT_SECONDS = 5
# Batches per drain, so that a drain ends even while decisions keep arriving.
MAX_BATCHES = 50

# A row's values by attname, in the order a buffered row (a JSON array) holds them, then
# the pk of the credential whose last use the row records (allowed decisions only).
FIELDS = (
    "organization_id",
    "user_id",
    "login",
    "protocol",
    "ip",
    "allowed",
    "reason",
    "credential_kind",
    "credential_id",
    "at",
)
USED_MODELS = {CredentialKind.SSH_KEY: SshKey, CredentialKind.APP_PASSWORD: AppPassword}

# On PostgreSQL a row written at once commits asynchronously: RETURNING runs within the
# INSERT, and a setting made local with set_config lasts until that transaction's commit.
# The decision then does not wait for the WAL to reach the disk; the WAL writer flushes
# it within a fraction of a second. A crash of the database server in that window can
# lose the last log rows, never corrupt the database or any other write (PostgreSQL's
# "asynchronous commit"; docs/transfer.md).
ASYNCHRONOUS_COMMIT = " RETURNING set_config('synchronous_commit', 'off', true)"


def row_of(*, decision, attempt, key, now: datetime) -> dict:
    """The log row of a decision, by attname, with `used`: the credential whose last use
    an allowed decision records (None for a refusal)."""
    person = decision.user
    return {
        "organization_id": person.organization_id if person is not None else key.organization_id,
        "user_id": person.pk if person is not None else None,
        "login": decision.login[:255],
        "protocol": attempt.protocol,
        "ip": attempt.ip,
        "allowed": decision.allowed,
        "reason": decision.reason,
        "credential_kind": attempt.kind,
        "credential_id": decision.credential.id if decision.credential else "",
        "at": now,
        "used": person.credential if decision.allowed else None,
    }


def append_of(row: dict) -> ratelimit.Append | None:
    """The row as the decision's round trip to Redis appends it (a JSON array: FIELDS in
    order, then the used credential's pk); None when rows are written at once
    (TRANSFER_LOG_BUFFER 0)."""
    if settings.TRANSFER_LOG_BUFFER <= 0:
        return None
    used = row["used"]
    values = [_encoded(row[name]) for name in FIELDS]
    value = json.dumps([*values, used.pk if used is not None else None])
    return ratelimit.Append(name=BUFFER, value=value, max_length=settings.TRANSFER_LOG_BUFFER)


def _encoded(value):
    """A row's value as JSON holds it: a person's id as text, a time in ISO 8601."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def write(row: dict) -> None:
    """Write one row now, as one statement: with `used`, on PostgreSQL the same statement
    records the credential's last use (at most once a minute; an UPDATE in a WITH)."""
    used = row["used"]
    fields = {name: row[name] for name in FIELDS}
    used = used if used is not None and is_stale(used.last_used_at, fields["at"]) else None
    sql, params = rows.insert_row(TransferSignIn, fields)
    postgresql = connection.vendor == "postgresql"
    if used is not None and postgresql:
        update, update_params = mark_used_statement(type(used), used.pk, now=fields["at"])
        sql, params = f"WITH used AS ({update}) {sql}", [*update_params, *params]
    elif used is not None:
        credential_mark_used(used, now=fields["at"])
    if postgresql and not connection.in_atomic_block:
        sql += ASYNCHRONOUS_COMMIT
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    if used is not None:
        used.last_used_at = fields["at"]  # what credential_mark_used leaves on the row


def drain(*, wait: bool = True) -> int:
    """Write the rows waiting in Redis to the database, a batch per transaction, and
    return how many were taken (written, or dropped with a deleted organization or as
    unwritable). One drain runs at a time on the whole platform; with `wait`, a caller
    finds another's drain running and waits for it to end (a page about to show the log),
    else it leaves the rows to that drain (a request that completed a batch). Nothing to
    do without Redis, or with an empty list (one round trip)."""
    target = ratelimit.redis_list_client(BUFFER)
    if target is None:
        return 0
    client, name = target
    if not client.llen(name):
        return 0
    lock = client.lock(
        f"{name}:drain", timeout=LOCK_SECONDS, blocking=wait, blocking_timeout=WAIT_SECONDS
    )
    if not lock.acquire():
        return 0
    taken = 0
    try:
        for _ in range(MAX_BATCHES):
            batch = client.lrange(name, 0, BATCH - 1)
            if batch:
                _write_batch([json.loads(item) for item in batch])
                # Only after the commit: a row is trimmed once it is in the database.
                client.ltrim(name, len(batch), -1)
                taken += len(batch)
            if len(batch) < BATCH:
                break
    finally:
        try:
            lock.release()
        except LockError:
            # Held past LOCK_SECONDS: another drain may have started meanwhile.
            logger.warning("transfer sign-in log drain outlived its lock")
    return taken


def drain_after_decision(length: int) -> None:
    """`drain`, when the decision's row made the list `length` long and so completed a
    batch. The decision is answered whatever happens here: rows not written wait for the
    next drain."""
    if length <= 0 or length % BATCH:
        return
    try:
        drain(wait=False)
    except (DatabaseError, RedisError) as exc:
        logger.warning("transfer sign-in log not drained: %s", type(exc).__name__)


def drain_before_reading() -> None:
    """`drain` for a page about to show the log or a credential's last use. With Redis
    out of reach the page shows what the database holds rather than failing."""
    try:
        drain(wait=True)
    except RedisError as exc:
        logger.warning("transfer sign-in log not drained: %s", type(exc).__name__)


def _write_batch(values: list[list]) -> None:
    """One transaction: the rows, and each used credential's last use (the batch's, unless
    the recorded one is less than a minute before it or later).

    A row's organization or person deleted while the row waited is treated as the
    deletion would have treated the row: an organization's rows go with it (CASCADE),
    a person's name nobody (SET_NULL)."""
    entries = []
    for item in values:
        entry = dict(zip(FIELDS, item[: len(FIELDS)], strict=True))
        entry["at"] = datetime.fromisoformat(entry["at"])
        entries.append((entry, item[len(FIELDS)]))
    if connection.vendor != "postgresql":
        _write_batch_with_the_orm(entries)
        return
    try:
        _execute_batch(entries)
    except (DataError, IntegrityError):
        # A row the table refuses would stop every batch after it: write the rows one by
        # one, and drop (and say so) only the ones refused.
        for entry in entries:
            try:
                _execute_batch([entry])
            except (DataError, IntegrityError) as exc:
                logger.warning("transfer sign-in log row dropped: %s", type(exc).__name__)


def _execute_batch(entries: list[tuple[dict, int | None]]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_batch_sql(), _batch_params(entries))


@functools.cache
def _batch_sql() -> str:
    """The PostgreSQL statement that writes a batch: its columns as arrays (`unnest`),
    the credentials' last uses as UPDATEs in its WITH, the rows as one INSERT."""
    u, o = rows.column, rows.table
    columns = [TransferSignIn._meta.get_field(name) for name in FIELDS]  # by attname
    arrays = ", ".join(
        f"%s::{field.rel_db_type(connection) if field.is_relation else field.db_type(connection)}[]"
        for field in columns
    )
    names = ", ".join(FIELDS)
    # As everywhere: a last use is recorded at most once a minute (keyed_secrets.is_stale).
    resolution = int(LAST_USED_RESOLUTION.total_seconds())
    updates = []
    for position, (kind, model) in enumerate(USED_MODELS.items()):
        updates.append(
            f"used_{position} AS (UPDATE {o(model)} c SET {u(model, 'last_used_at')} = b.at "  # noqa: S608
            f"FROM (SELECT used, max(at) AS at FROM batch WHERE credential_kind = '{kind}' "
            "AND used IS NOT NULL GROUP BY used) b "
            f"WHERE {u(model, 'id', 'c')} = b.used AND ({u(model, 'last_used_at', 'c')} "
            f"IS NULL OR {u(model, 'last_used_at', 'c')} "
            f"<= b.at - interval '{resolution} seconds'))"
        )
    person = u(User, "id", "p")
    values = ", ".join(person if name == "user_id" else f"b.{name}" for name in FIELDS)
    return (
        f"WITH batch AS (SELECT * FROM unnest({arrays}, %s::bigint[]) "  # noqa: S608
        f"AS b({names}, used)), {', '.join(updates)} "
        f"INSERT INTO {o(TransferSignIn)} "
        f"({', '.join(u(TransferSignIn, field.name) for field in columns)}) "
        f"SELECT {values} FROM batch b LEFT JOIN {o(User)} p ON {person} = b.user_id "
        f"WHERE b.organization_id IS NULL OR EXISTS (SELECT 1 FROM {o(Organization)} o "
        f"WHERE {u(Organization, 'id', 'o')} = b.organization_id)"
    )


def _batch_params(entries: list[tuple[dict, int | None]]) -> list[list]:
    return [[entry[name] for entry, _ in entries] for name in FIELDS] + [
        [used for _, used in entries]
    ]


def _write_batch_with_the_orm(entries: list[tuple[dict, int | None]]) -> None:
    """`_write_batch` where there are no arrays (SQLite, for development)."""
    organizations = {e["organization_id"] for e, _ in entries if e["organization_id"]}
    people = {e["user_id"] for e, _ in entries if e["user_id"]}  # as text
    with transaction.atomic():
        live_organizations = set(
            Organization.objects.filter(pk__in=organizations).values_list("pk", flat=True)
        )
        live_people = {
            str(pk) for pk in User.objects.filter(pk__in=people).values_list("pk", flat=True)
        }
        kept = [
            entry
            for entry, _ in entries
            if entry["organization_id"] is None or entry["organization_id"] in live_organizations
        ]
        for entry in kept:
            if entry["user_id"] not in live_people:
                entry["user_id"] = None
        TransferSignIn.objects.bulk_create([TransferSignIn(**entry) for entry in kept])
        for kind, model in USED_MODELS.items():
            uses: dict[int, datetime] = {}
            for entry, used in entries:
                if used is not None and entry["credential_kind"] == kind:
                    uses[used] = max(entry["at"], uses.get(used, entry["at"]))
            for used, at in uses.items():
                model.objects.filter(pk=used).filter(
                    Q(last_used_at__isnull=True) | Q(last_used_at__lte=at - LAST_USED_RESOLUTION)
                ).update(last_used_at=at)


class BufferCollector:
    """`/metrics`: the sign-in log rows waiting in Redis, read at each scrape. A count that
    keeps growing means the worker is not writing them; at TRANSFER_LOG_BUFFER rows are
    written as decisions are made again. Nothing is reported without Redis, nor while
    Redis is out of reach (the rest of the scrape still answers)."""

    def collect(self):
        target = ratelimit.redis_list_client(BUFFER)
        if target is None:
            return
        client, name = target
        try:
            waiting = client.llen(name)
        except RedisError:
            metrics.STORE_ERRORS.labels(store="redis").inc()
            return
        gauge = GaugeMetricFamily(
            "roster_transfer_sign_ins_buffered",
            "File-transfer sign-in log rows waiting in Redis to be written in a batch.",
        )
        gauge.add_metric([], waiting)
        yield gauge
