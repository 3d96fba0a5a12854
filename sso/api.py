"""GET /api/v1/me: the signed-in member, by session (djangorestframework)."""

from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from sso.selectors import groups_of_user


class IsOrganizationMember(BasePermission):
    message = "Only members of an organization have a profile here."

    def has_permission(self, request, view):
        return request.user.organization_id is not None


class MeView(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated, IsOrganizationMember]

    def get(self, request):
        user = request.user
        return Response(
            {
                "userName": user.username,
                "email": user.email,
                "displayName": user.get_full_name() or user.username,
                "organization": {"slug": user.organization.slug, "name": user.organization.name},
                "groups": [
                    {"id": str(group.pk), "displayName": group.display_name}
                    for group in groups_of_user(user)
                ],
            }
        )
