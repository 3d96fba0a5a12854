from django.urls import path

from sso import api
from sso.views import login, oidc, portal, saml

app_name = "sso"

urlpatterns = [
    path("", portal.landing, name="landing"),
    path("signin/", portal.signin, name="signin"),
    path("api/v1/me", api.MeView.as_view(), name="me"),
    path("sso/<slug:slug>/metadata/", saml.metadata, name="metadata"),
    path("sso/<slug:slug>/login/", login.login, name="login"),
    path("sso/<slug:slug>/acs/", saml.acs, name="acs"),
    path("sso/<slug:slug>/slo/", saml.slo, name="slo"),
    path("sso/<slug:slug>/oidc/callback/", oidc.callback, name="oidc_callback"),
    path("sso/<slug:slug>/oidc/jwks.json", oidc.jwks, name="oidc_jwks"),
    path(
        "sso/<slug:slug>/oidc/backchannel-logout/",
        oidc.backchannel_logout,
        name="oidc_backchannel_logout",
    ),
    path(
        "sso/<slug:slug>/oidc/frontchannel-logout/",
        oidc.frontchannel_logout,
        name="oidc_frontchannel_logout",
    ),
]
