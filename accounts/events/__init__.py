"""Directory events for the rest of the platform.

Every user, group and membership change writes a `DirectoryEvent` in the transaction of
the change (a transactional outbox). The Events API serves them in commit-safe order;
webhook deliveries go out from the PostgreSQL job queue (procrastinate).
"""
