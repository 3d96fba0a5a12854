from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Roster operations"
admin.site.site_title = "Roster operations"

urlpatterns = [
    # Before admin.site.urls: the admin's sign-in, throttled (accounts.operator_login).
    path("admin/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("console/", include("console.urls")),
    # Apps add their own include() lines below, one per app.
    path("scim/v2/", include("provisioning.urls")),
    path("api/v1/", include("accounts.api.urls")),
    path("transfer/", include("transfer.urls")),
    path("", include("sso.urls")),
]
