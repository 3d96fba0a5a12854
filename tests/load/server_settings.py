"""Settings of the gunicorn servers the load tests start: production settings, with
plain static file storage (no collectstatic in the suite) and a fast password hasher.

The cache stays the production one (Redis from REDIS_URL, else the database), so
several servers share their rate-limit counters as production instances do.
"""

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
