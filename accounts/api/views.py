"""GET-only endpoints for an organization's API key: the event stream and the directory."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils.module_loading import import_string
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView, RetrieveAPIView

from accounts.api.authentication import ApiKeyAuthentication, HasApiKey, HasReaderKey
from accounts.api.pagination import DirectoryCursorPagination, EventStreamPagination
from accounts.api.serializers import (
    EventSerializer,
    GroupSerializer,
    MemberSerializer,
    UserSerializer,
)
from accounts.api.throttling import ApiKeyRateThrottle
from accounts.events.models import DirectoryEvent, EventType
from accounts.models import Group, Membership, User


class OrganizationApiView:
    """Every view answers for the key's organization only."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]
    throttle_classes = [ApiKeyRateThrottle]
    pagination_class = DirectoryCursorPagination

    @property
    def organization(self):
        return self.request.auth.organization


def _event_readers() -> list:
    """The credentials that may read the event stream: organization API keys, and the
    kinds settings.EVENTS_API_EXTRA_AUTHENTICATION adds (the file servers' transfer
    keys), named by string as config names the apps."""
    return [
        *(import_string(path) for path in settings.EVENTS_API_EXTRA_AUTHENTICATION),
        ApiKeyAuthentication,
    ]


class EventList(OrganizationApiView, ListAPIView):
    serializer_class = EventSerializer
    pagination_class = EventStreamPagination
    permission_classes = [HasReaderKey]

    def get_authenticators(self):
        return [authentication() for authentication in _event_readers()]

    def get_authenticate_header(self, request):
        # A 401 names the API keys' realm, as the rest of the read API does.
        return ApiKeyAuthentication().authenticate_header(request)

    def get_queryset(self):
        # Ordered and cut at the commit horizon by the pagination (accounts.events.stream).
        if getattr(self.request.auth, "reads_every_organization", False):
            # The platform's own file servers follow every organization.
            return DirectoryEvent.objects.all()
        return DirectoryEvent.objects.filter(organization=self.organization)

    def event_types(self) -> list[str] | None:
        raw = self.request.query_params.get("types")
        if not raw:
            return None
        types = [name.strip() for name in raw.split(",") if name.strip()]
        unknown = sorted(set(types) - set(EventType.values))
        if unknown:
            raise ValidationError({"types": f"Unknown event types: {', '.join(unknown)}."})
        return types


class UserList(OrganizationApiView, ListAPIView):
    serializer_class = UserSerializer

    def get_queryset(self):
        return User.objects.filter(organization=self.organization)


class UserDetail(OrganizationApiView, RetrieveAPIView):
    serializer_class = UserSerializer
    lookup_url_kwarg = "user_id"

    def get_queryset(self):
        return User.objects.filter(organization=self.organization)


class GroupList(OrganizationApiView, ListAPIView):
    serializer_class = GroupSerializer

    def get_queryset(self):
        return Group.objects.filter(organization=self.organization)


class GroupDetail(OrganizationApiView, RetrieveAPIView):
    serializer_class = GroupSerializer
    lookup_url_kwarg = "group_id"

    def get_queryset(self):
        return Group.objects.filter(organization=self.organization)


class MembershipCursorPagination(DirectoryCursorPagination):
    ordering = ("id",)


class GroupMemberList(OrganizationApiView, ListAPIView):
    serializer_class = MemberSerializer
    pagination_class = MembershipCursorPagination

    def get_queryset(self):
        group = get_object_or_404(
            Group.objects.filter(organization=self.organization), pk=self.kwargs["group_id"]
        )
        return Membership.objects.filter(group=group).select_related("user")
