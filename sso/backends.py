from django.contrib.auth.backends import ModelBackend


class SamlBackend(ModelBackend):
    """Sessions started by a validated SAML assertion.

    It authenticates nobody by credentials (the ACS validates the assertion and calls
    login() with this backend); listed in AUTHENTICATION_BACKENDS so that Django keeps
    loading the session's user, and refuses inactive ones, on every request.
    """

    def authenticate(self, request, **credentials):
        return None


class OidcBackend(SamlBackend):
    """Sessions started by a validated OpenID Connect ID token (sso.views.oidc); like
    SamlBackend it authenticates nobody by credentials."""
