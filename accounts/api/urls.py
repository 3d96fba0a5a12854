from django.urls import path

from accounts.api import views

app_name = "api"

urlpatterns = [
    path("events", views.EventList.as_view(), name="events"),
    path("users", views.UserList.as_view(), name="users"),
    path("users/<uuid:user_id>", views.UserDetail.as_view(), name="user"),
    path("groups", views.GroupList.as_view(), name="groups"),
    path("groups/<uuid:group_id>", views.GroupDetail.as_view(), name="group"),
    path("groups/<uuid:group_id>/members", views.GroupMemberList.as_view(), name="group_members"),
]
