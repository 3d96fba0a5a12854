"""Refusals of the sso app; views and commands show their message."""

from accounts.errors import AccountsError


class SsoError(AccountsError):
    """Base for sso refusals that a caller can show to whoever asked."""


class MetadataError(SsoError):
    """IdP metadata or configuration that cannot be used; the message says what is wrong."""


class SsoNotConfigured(SsoError):
    def __init__(self):
        super().__init__("Single sign-on is not configured for this organization.")


class LoginRefused(SsoError):
    """A sign-in refused at the ACS.

    `reason` is a short code for the audit trail and the log; `subject` the validated
    identifier when there is one. Neither is shown to the browser.
    """

    def __init__(self, reason: str, *, subject: str = "", detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.subject = subject
        self.detail = detail


class LogoutRefused(SsoError):
    """An IdP's LogoutRequest that ends nothing; `reason` is for the log, not the browser."""

    def __init__(self, reason: str, *, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class ProviderUnavailable(SsoError):
    """The identity provider did not answer, timed out, or answered 5xx (a 502 page).

    `reason` is `provider_unreachable` or `provider_5xx`; `detail` names the host and the
    status only, never a secret of the request.
    """

    def __init__(self, reason: str, *, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class OidcConfigurationError(SsoError):
    """An OIDC setting that cannot be used (an unsafe URL, a discovery document that does
    not fit); the message says what, safe to show an admin."""
