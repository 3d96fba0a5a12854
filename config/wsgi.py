import os
from importlib import import_module

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class MachineApiHandler(WSGIHandler):
    """Django's handler with MACHINE_API_MIDDLEWARE in place of MIDDLEWARE.

    The machine-to-machine APIs under MACHINE_API_PATHS (the file servers' decisions, at
    every login) carry a bearer key and no cookie: sessions, CSRF, authentication of a
    browser, messages, framing and static files do nothing for them, yet each cost every
    request a layer. They keep what an API needs: metrics, the request id, the security
    headers and HTTPS redirect, ALLOWED_HOSTS (CommonMiddleware asks for the host), the
    content security policy and the 503 for a store out of reach.
    """

    def load_middleware(self, is_async=False):
        # Django's loader reads settings.MIDDLEWARE: it is given the API's list while
        # this handler is built, once, as the process starts.
        middleware = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.MACHINE_API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = middleware


def by_path(site, machine_api):
    """The WSGI application: requests under MACHINE_API_PATHS to `machine_api`, every
    other to `site`."""
    paths = tuple(settings.MACHINE_API_PATHS)

    def application(environ, start_response):
        if environ.get("PATH_INFO", "").startswith(paths):
            return machine_api(environ, start_response)
        return site(environ, start_response)

    return application


site = get_wsgi_application()
application = by_path(site, MachineApiHandler())

# Import the URLconf, and with it every view, as the worker starts rather than on its
# first request: otherwise that request (and the first after each recycle, see
# GUNICORN_MAX_REQUESTS) waits about 0.15 s for the imports.
import_module(settings.ROOT_URLCONF)
