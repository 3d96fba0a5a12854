from django.urls import path

from transfer import api, views

app_name = "transfer"

urlpatterns = [
    # The decision API file servers ask (transfer.api, docs/transfer.md).
    path("v1/authenticate", api.authenticate, name="authenticate"),
    path("v1/authorized_keys", api.authorized_keys, name="authorized_keys"),
    path("v1/accounts", api.AccountList.as_view(), name="accounts"),
    # SFTPGo's external authentication hook (transfer.sftpgo, docs/sftpgo.md).
    path("v1/sftpgo/auth", api.sftpgo_auth, name="sftpgo_auth"),
    # The person's own File transfer page (transfer.views, docs/transfer-users.md).
    path("", views.page, name="page"),
    path("sign-in-again/", views.sign_in_again, name="sign_in_again"),
    path("keys/add/", views.ssh_key_add, name="ssh_key_add"),
    path("keys/<int:key_id>/remove/", views.ssh_key_remove, name="ssh_key_remove"),
    path("app-passwords/create/", views.app_password_create, name="app_password_create"),
    path(
        "app-passwords/<int:password_id>/created/",
        views.app_password_created,
        name="app_password_created",
    ),
    path(
        "app-passwords/<int:password_id>/revoke/",
        views.app_password_revoke,
        name="app_password_revoke",
    ),
]
