import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Import the URLconf, and with it every view, as the worker starts rather than on its
# first request: otherwise that request (and the first after each recycle, see
# GUNICORN_MAX_REQUESTS) waits about 0.15 s for the imports.
import_module(settings.ROOT_URLCONF)
