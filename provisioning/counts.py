"""How many users or groups an organization has, read from the maintained count.

RFC 7644 §3.4.2.4 asks every page for `totalResults`. COUNT(*) over a million users
costs tens of milliseconds, on each of the ten thousand pages of an import; the
triggers of migration 0005 keep the number instead, as insert-only rows
(provisioning.models.ResourceCount) written in the transaction of each insert or
delete, so the sum is exact for whatever snapshot reads it.
"""

from dataclasses import dataclass

from django.db import connection, transaction

from accounts.models import Organization
from provisioning import attributes
from provisioning.models import ResourceCount

# The resource types counted, named as provisioning.attributes names them.
USER = attributes.USER
GROUP = attributes.GROUP
# Rows of one organization and resource past which a reader folds them into one.
FOLD_AT = 64


@dataclass(frozen=True)
class Tally:
    total: int
    # Changes whenever a row of the organization's resource is inserted or deleted
    # (each such transaction adds a count row with a new id); None where no count is
    # maintained.
    version: str | None


def _sql(name: str) -> str:
    return connection.ops.quote_name(name)


def _tally_sql() -> str:
    table = _sql(ResourceCount._meta.db_table)
    return (
        f"SELECT coalesce(sum(delta), 0), count(*), "  # noqa: S608
        f"coalesce(md5(string_agg(id::text, ',' ORDER BY id)), '') "
        f"FROM {table} WHERE organization_id = %s AND resource = %s"
    )


def _fold_sql() -> str:
    table = _sql(ResourceCount._meta.db_table)
    return (
        f"WITH gone AS (DELETE FROM {table} "  # noqa: S608
        f"WHERE organization_id = %s AND resource = %s RETURNING delta) "
        f"INSERT INTO {table} (organization_id, resource, delta) "
        f"SELECT %s, %s, sum(delta) FROM gone HAVING count(*) > 0"
    )


def counts_maintained() -> bool:
    return connection.vendor == "postgresql"


def tally(organization: Organization, resource: str, rows) -> Tally:
    """The organization's number of `resource` rows; `rows` is counted where not kept."""
    if not counts_maintained():
        return Tally(total=rows.count(), version=None)
    with connection.cursor() as cursor:
        cursor.execute(_tally_sql(), [organization.pk, resource])
        total, count_rows, version = cursor.fetchone()
    if count_rows > FOLD_AT:
        fold(organization, resource)
    return Tally(total=max(int(total), 0), version=version)


def fold(organization: Organization, resource: str) -> None:
    """Replace the organization's count rows by their sum, in one statement.

    Writers are not blocked: they only insert. Rows a concurrent writer commits while
    this runs are not in this statement's snapshot and stay. Two folds at once: the
    second waits for the first's row locks, then finds those rows gone.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_fold_sql(), [organization.pk, resource, organization.pk, resource])
