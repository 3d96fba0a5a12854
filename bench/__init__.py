"""Benchmarks: real gunicorn, real PostgreSQL, real HTTP (`make bench`)."""
