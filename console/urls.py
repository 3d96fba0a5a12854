from django.urls import path

from console.views import auth, home

app_name = "console"

urlpatterns = [
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("", home.home, name="home"),
]
