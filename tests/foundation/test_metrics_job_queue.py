"""Queue depth and the oldest waiting job, read from procrastinate's tables per scrape."""

import pytest
from django.db import OperationalError, connection
from procrastinate.schema import SchemaManager

from config import metrics

requires_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="procrastinate's job tables exist only on PostgreSQL (set DATABASE_URL)",
)


def collected() -> dict:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in metrics.JobQueueCollector().collect()
        for sample in family.samples
    }


@pytest.fixture
def job_tables(db):
    """procrastinate's schema, inside the test's transaction (rolled back after it)."""
    if metrics.JOB_TABLE not in connection.introspection.table_names():
        with connection.cursor() as cursor:
            cursor.execute(SchemaManager.get_schema())


def defer(queue: str, *, waited: int, status: str = "todo", scheduled_in: int | None = None):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, status, scheduled_at) "
            "VALUES (%s, 'roster.test', 'todo', now() + make_interval(secs => %s)) RETURNING id",
            [queue, scheduled_in],
        )
        (job_id,) = cursor.fetchone()
        cursor.execute(
            "UPDATE procrastinate_events SET at = now() - make_interval(secs => %s) "
            "WHERE job_id = %s",
            [waited, job_id],
        )
        if status != "todo":
            cursor.execute(
                "UPDATE procrastinate_jobs SET status = %s WHERE id = %s", [status, job_id]
            )


@requires_postgresql
def test_depth_and_oldest_age_count_only_ready_jobs_per_queue(job_tables):
    defer("webhooks", waited=120)
    defer("webhooks", waited=30)
    defer("webhooks", waited=500, status="doing")
    defer("webhooks", waited=900, scheduled_in=3600)
    defer("emails", waited=5)
    found = collected()
    assert found[("roster_job_queue_depth", (("queue", "webhooks"),))] == 2
    assert found[("roster_job_queue_depth", (("queue", "emails"),))] == 1
    assert 120 <= found[("roster_job_queue_oldest_age_seconds", (("queue", "webhooks"),))] < 180
    assert 5 <= found[("roster_job_queue_oldest_age_seconds", (("queue", "emails"),))] < 65


@requires_postgresql
def test_a_scheduled_job_waits_from_its_scheduled_time(job_tables):
    defer("webhooks", waited=3600, scheduled_in=-60)
    age = collected()[("roster_job_queue_oldest_age_seconds", (("queue", "webhooks"),))]
    assert 60 <= age < 120


@requires_postgresql
def test_the_gauges_are_in_the_scrape(client, settings, job_tables):
    settings.METRICS_TOKEN = "metrics-token-for-tests-0123456789"
    defer("webhooks", waited=10)
    text = client.get(
        "/metrics", headers={"Authorization": f"Bearer {settings.METRICS_TOKEN}"}
    ).content.decode()
    assert 'roster_job_queue_depth{queue="webhooks"} 1.0' in text


def test_nothing_is_reported_without_the_job_tables(db):
    if metrics.JOB_TABLE in connection.introspection.table_names():
        pytest.skip("procrastinate's tables are migrated here")
    assert collected() == {}


def test_an_unreachable_database_leaves_the_rest_of_the_scrape_answering(db, monkeypatch):
    def unreachable(self):
        raise OperationalError("connection refused")

    monkeypatch.setattr(metrics.JobQueueCollector, "rows", unreachable)
    before = (
        metrics.REGISTRY.get_sample_value(
            "roster_store_unavailable_errors_total", {"store": "database"}
        )
        or 0
    )
    assert collected() == {}
    after = metrics.REGISTRY.get_sample_value(
        "roster_store_unavailable_errors_total", {"store": "database"}
    )
    assert after - before == 1
