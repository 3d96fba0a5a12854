from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Roster operations"
admin.site.site_title = "Roster operations"

urlpatterns = [
    # First: file servers ask the decision API at every login (transfer.api).
    path("transfer/", include("transfer.urls")),
    # Before admin.site.urls: the admin's sign-in, throttled (accounts.operator_login).
    path("admin/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("console/", include("console.urls")),
    # Apps add their own include() lines below, one per app.
    path("scim/v2/", include("provisioning.urls")),
    path("api/v1/", include("accounts.api.urls")),
    path("", include("sso.urls")),
]
