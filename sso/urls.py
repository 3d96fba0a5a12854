from django.urls import path

from sso import api
from sso.views import portal, saml

app_name = "sso"

urlpatterns = [
    path("", portal.landing, name="landing"),
    path("signin/", portal.signin, name="signin"),
    path("api/v1/me", api.MeView.as_view(), name="me"),
    path("sso/<slug:slug>/metadata/", saml.metadata, name="metadata"),
    path("sso/<slug:slug>/login/", saml.login, name="login"),
    path("sso/<slug:slug>/acs/", saml.acs, name="acs"),
    path("sso/<slug:slug>/slo/", saml.slo, name="slo"),
]
