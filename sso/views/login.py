"""`/sso/<org>/login/`: the start of a sign-in through the organization's active
connection, SAML or OpenID Connect, so that links and `/signin/` discovery work the
same whichever it is."""

from django.http import HttpResponseNotAllowed
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sso.selectors import oidc_connection_of
from sso.views import oidc, saml


@csrf_exempt  # OIDC third-party initiated login (Core §4) may be a cross-site form POST.
@never_cache
@require_http_methods(["GET", "POST"])
def login(request, slug):
    organization, idp = saml.organization_and_idp_or_404(slug)
    test = request.GET.get("test")
    if test in ("saml", "oidc"):
        tester = saml.testing_owner(request, organization)
        if tester is None:
            return saml.test_refused(request)
        if test == "oidc":
            return oidc.test_login(request, organization, tester)
        if idp is None:
            return saml.unavailable(request)
        return saml.login(request, organization, idp, tester=tester)
    if saml.enabled_idp(idp) is not None:
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        return saml.login(request, organization, idp)
    connection = oidc_connection_of(organization)
    if connection is None or not connection.enabled:
        return saml.unavailable(request)
    return oidc.login(request, organization, connection)
