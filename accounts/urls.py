"""URLs the accounts app serves in front of the operations admin (included by config)."""

from django.urls import path

from accounts.operator_login import operator_login

urlpatterns = [
    # Matched before admin.site.urls: the admin's own login, throttled like the console's.
    path("login/", operator_login, name="operator_login"),
]
