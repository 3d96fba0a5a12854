"""The security tests reuse the SAML test identity provider and its fixtures."""

from tests.sso.conftest import (  # noqa: F401  (fixtures, found by name)
    _public_https,
    assertion_for,
    idp,
    rogue_idp,
    saml_idp,
)
