"""Organization API keys as a DRF authentication class, and the permission that needs one."""

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from accounts.events.models import ApiKey
from accounts.events.selectors import api_key_for_secret
from accounts.services.integrations import api_key_mark_used
from config import request_context

API_401_BAD_KEY = "The API key is missing, unknown or revoked."


class ApiKeyClient:
    """The service calling with an API key; stands in for request.user."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ApiKey):
        self.key = key
        self.organization = key.organization

    def __str__(self):
        return f"api key {self.key.prefix}"


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer rk_...`; anything else under Bearer is refused with a 401."""

    www_authenticate_realm = "api"

    def authenticate(self, request):
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        key = api_key_for_secret(secret.strip())
        if key is None or not key.is_live:
            raise AuthenticationFailed(API_401_BAD_KEY)
        api_key_mark_used(key=key)
        request_context.bind(organization=key.organization.slug, actor=f"api key {key.prefix}")
        return ApiKeyClient(key), key

    def authenticate_header(self, request):
        return f'Bearer realm="{self.www_authenticate_realm}"'


class HasApiKey(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey)


class HasReaderKey(BasePermission):
    """Any credential one of the view's authenticators accepted (the event stream)."""

    def has_permission(self, request, view):
        return request.auth is not None and getattr(request.auth, "is_live", False)
