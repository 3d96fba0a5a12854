"""SCIM views: django-scim2's, subclassed where real identity-provider traffic needs more."""

from provisioning.views.discovery import (
    NotImplementedView,
    ResourceTypesView,
    SchemasView,
    ServiceProviderConfigView,
    UnknownPathView,
)
from provisioning.views.resources import GroupSearchView, GroupsView, UserSearchView, UsersView

__all__ = [
    "GroupSearchView",
    "GroupsView",
    "NotImplementedView",
    "ResourceTypesView",
    "SchemasView",
    "ServiceProviderConfigView",
    "UnknownPathView",
    "UserSearchView",
    "UsersView",
]
