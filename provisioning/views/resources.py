"""/Users and /Groups (and their .search): django-scim2's views with the stock gaps closed.

The stock views load whole tables to count a page, filter with raw SQL and answer 500
for malformed ids; these subclasses keep the framework's structure (URL names,
adapters, filter parsers) and replace those behaviours.
"""

from django.db.models import Prefetch, prefetch_related_objects
from django.http import HttpResponse
from django_scim import views as stock

from accounts.models import Membership
from accounts.selectors import parse_id
from accounts.transactions import remember_locked
from provisioning import attributes, counts, paging, schemas, selectors
from provisioning.adapters import ScimGroupAdapter, ScimUserAdapter, etag_of
from provisioning.bounds import check_not_too_many
from provisioning.errors import INVALID_SYNTAX, INVALID_VALUE, BadRequest, NotFound
from provisioning.filters import GroupFilterQuery, UserFilterQuery
from provisioning.listing import ListParams
from provisioning.projection import excludes, project, requests
from provisioning.ssh_public_keys import idp_keys_prefetch
from provisioning.views.base import (
    ScimView,
    check_if_match,
    etag_in,
    list_response,
    scim_response,
)


def cursor_list_response(resources: list, *, total: int, next_cursor: str | None):
    """RFC 9865 §2: a cursor page has no startIndex; nextCursor is absent on the last."""
    document = {
        "schemas": [schemas.LIST_RESPONSE],
        "totalResults": total,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
    if next_cursor is not None:
        document["nextCursor"] = next_cursor
    return scim_response(document)


class ResourceMethods(ScimView):
    """GET/POST/PUT/PATCH/DELETE of one resource type, and its list and search."""

    adapter_class = None
    resource = ""  # provisioning.counts.USER or GROUP
    sort_fields: dict = {}
    related_attribute = ""  # the attribute whose prefetch a client can skip
    core_prefix = ""

    def queryset(self, *, with_related: bool):
        raise NotImplementedError

    def load_related(self, queryset):
        raise NotImplementedError

    def always_loaded(self) -> list[Prefetch]:
        """What rendering reads besides the row and its related attribute, one query each
        for any number of rows."""
        return []

    # -- reading --------------------------------------------------------------------

    def wants_related(self, attributes, excluded) -> bool:
        return not excludes(attributes, excluded, self.related_attribute)

    def get_object(self, *, with_related: bool = True, for_update: bool = False):
        pk = parse_id(self.kwargs.get("uuid"))
        queryset = self.queryset(with_related=with_related)
        if for_update:
            queryset = queryset.select_for_update(of=("self",))
        else:
            queryset = queryset.prefetch_related(*self.always_loaded())
        obj = queryset.filter(pk=pk).first() if pk else None
        if obj is None:
            raise NotFound("Resource not found.")
        if for_update:
            # The service the write calls works on this row as locked, not read again.
            remember_locked(obj)
        return obj

    def render(self, obj, *, status: int = 200):
        attributes = self.request.GET.get("attributes")
        excluded = self.request.GET.get("excludedAttributes")
        adapter = self.adapter_class(obj, request=self.request)
        document = project(
            adapter.to_dict(**self.render_options(attributes, excluded)), attributes, excluded
        )
        return scim_response(
            document, status=status, headers={"ETag": adapter.etag, "Location": adapter.location}
        )

    def render_options(self, attributes, excluded) -> dict:
        return {}

    def written(self, obj, *, created: bool = False):
        """The object a write returned, ready to render: only its related rows are loaded.

        The service wrote it inside this transaction under its lock, so it is what the
        database holds; reading it again would cost a query and show nothing new.
        """
        attributes = self.request.GET.get("attributes")
        excluded = self.request.GET.get("excludedAttributes")
        if self.wants_related(attributes, excluded):
            prefetch_related_objects([obj], self.related_prefetch(created=created))
        prefetch_related_objects([obj], *self.always_loaded())
        return obj

    def related_prefetch(self, *, created: bool) -> Prefetch:
        raise NotImplementedError

    def ordering(self, params: ListParams) -> list:
        if params.sort_by is None:
            return ["created_at", "id"]
        expression = self.sort_fields.get(params.sort_by.lower().removeprefix(self.core_prefix))
        if expression is None:
            raise BadRequest(f"Cannot sort by {params.sort_by!r}.", scim_type=INVALID_VALUE)
        direction = expression.desc() if params.descending else expression.asc()
        return [direction, "id"]

    def list_resources(self, params: ListParams) -> HttpResponse:
        """The page's ids (provisioning.paging), its rows and their prefetch."""
        with_related = self.wants_related(params.attributes, params.excluded_attributes)
        ordering = self.ordering(params)
        if params.filter:
            matching = self.parser_getter().search(params.filter, self.request)
        else:
            matching = self.queryset(with_related=False)
        where = {"organization": self.request.scim_organization, "resource": self.resource}
        if params.cursor is not None:
            ordering = list(paging.CREATION_ORDER)
            page = paging.cursor_page(matching, params, **where)
        else:
            page = paging.index_page(matching, params, ordering=ordering, **where)
        resources = []
        if page.ids:
            rows = self.load_related(matching) if with_related else matching
            rows = rows.prefetch_related(*self.always_loaded())
            rows = rows.filter(pk__in=page.ids).order_by(*ordering)
            options = self.render_options(params.attributes, params.excluded_attributes)
            resources = [
                project(
                    self.adapter_class(obj, request=self.request).to_dict(**options),
                    params.attributes,
                    params.excluded_attributes,
                )
                for obj in rows
            ]
        if params.cursor is not None:
            return cursor_list_response(resources, total=page.total, next_cursor=page.next_cursor)
        return list_response(resources, total=page.total, start_index=params.start_index)

    # -- HTTP methods ------------------------------------------------------------------

    def get(self, request, uuid=None, **kwargs):
        if uuid is None:
            return self.list_resources(ListParams.read(request.GET))
        attributes = request.GET.get("attributes")
        excluded = request.GET.get("excludedAttributes")
        obj = self.get_object(with_related=self.wants_related(attributes, excluded))
        etag = etag_of(obj)
        if etag_in(request.headers.get("If-None-Match"), etag):
            return HttpResponse(status=304, headers={"ETag": etag})
        return self.render(obj)

    def post(self, request, uuid=None, **kwargs):
        if uuid is not None:
            return self.http_method_not_allowed(request)
        adapter = self.adapter_class(None, request=request)
        adapter.from_dict(self.load_body())
        adapter.save()
        return self.render(self.written(adapter.obj, created=True), status=201)

    def put(self, request, uuid=None, **kwargs):
        if uuid is None:
            return self.http_method_not_allowed(request)
        adapter = self.adapter_class(
            self.get_object(with_related=False, for_update=True), request=request
        )
        check_if_match(request, adapter.etag)
        adapter.from_dict(self.load_body())
        adapter.save()
        return self.render(self.written(adapter.obj))

    def patch_response(self, obj):
        """RFC 7644 §3.5.2: 200 with the whole resource (honouring `attributes`)."""
        return self.render(self.written(obj))

    def patch(self, request, uuid=None, **kwargs):
        if uuid is None:
            return self.http_method_not_allowed(request)
        adapter = self.adapter_class(
            self.get_object(with_related=False, for_update=True), request=request
        )
        check_if_match(request, adapter.etag)
        body = self.load_body()
        operations = body.get("Operations", body.get("operations"))
        if not isinstance(operations, list) or not operations:
            raise BadRequest(
                "A PATCH body needs a non-empty Operations list.", scim_type=INVALID_SYNTAX
            )
        check_not_too_many("operations in one PATCH", len(operations))
        adapter.handle_operations(operations)
        adapter.save()
        return self.patch_response(adapter.obj)

    def delete(self, request, uuid=None, **kwargs):
        if uuid is None:
            return self.http_method_not_allowed(request)
        adapter = self.adapter_class(
            self.get_object(with_related=False, for_update=True), request=request
        )
        check_if_match(request, adapter.etag)
        adapter.delete()
        return HttpResponse(status=204)


class SearchMethods(ResourceMethods):
    """POST /<Resource>/.search with a SearchRequest body (RFC 7644 §3.4.3)."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        body = self.load_body()
        declared = body.get("schemas")
        if declared is not None and (
            not isinstance(declared, list) or schemas.SEARCH_REQUEST not in declared
        ):
            raise BadRequest(
                f"A search body declares the schema {schemas.SEARCH_REQUEST}.",
                scim_type=INVALID_SYNTAX,
            )
        return self.list_resources(ListParams.read(body))


class UserResource:
    resource = counts.USER
    adapter_class = ScimUserAdapter
    parser_getter = UserFilterQuery
    related_attribute = "groups"
    sort_fields = attributes.sort_expressions(attributes.USER)
    core_prefix = schemas.CORE_USER.lower() + ":"

    def queryset(self, *, with_related: bool):
        return selectors.scim_users(self.request.scim_organization, with_groups=with_related)

    def load_related(self, queryset):
        return selectors.with_user_groups(queryset)

    def related_prefetch(self, *, created: bool) -> Prefetch:
        if created:
            # A user created a moment ago is in no group yet.
            return Prefetch("memberships", queryset=Membership.objects.none())
        return selectors.user_groups_prefetch()

    def always_loaded(self) -> list[Prefetch]:
        return [idp_keys_prefetch()]


class GroupResource:
    resource = counts.GROUP
    adapter_class = ScimGroupAdapter
    parser_getter = GroupFilterQuery
    related_attribute = "members"
    sort_fields = attributes.sort_expressions(attributes.GROUP)
    core_prefix = schemas.CORE_GROUP.lower() + ":"

    def queryset(self, *, with_related: bool):
        return selectors.scim_groups(self.request.scim_organization, with_members=with_related)

    def load_related(self, queryset):
        return selectors.with_group_members(queryset)

    def related_prefetch(self, *, created: bool) -> Prefetch:
        return selectors.group_members_prefetch()

    def patch_response(self, obj):
        """204 No Content, unless the client names `attributes` or `excludedAttributes`.

        RFC 7644 §3.5.2 allows either answer. A group's body carries its whole member
        list, so answering every membership change with it would make adding one
        member cost the size of the group; Okta and Entra document 204 for group
        PATCH. A client that wants the group back asks for the attributes it needs.
        """
        if "attributes" in self.request.GET or "excludedAttributes" in self.request.GET:
            return super().patch_response(obj)
        return HttpResponse(status=204, headers={"ETag": etag_of(obj)})

    def render_options(self, attributes, excluded) -> dict:
        return {
            "with_members": self.wants_related(attributes, excluded),
            "with_member_display": requests(attributes, "members", "display"),
        }


class UsersView(UserResource, ResourceMethods, stock.UsersView):
    pass


class GroupsView(GroupResource, ResourceMethods, stock.GroupsView):
    pass


class UserSearchView(UserResource, SearchMethods, stock.UserSearchView):
    pass


class GroupSearchView(GroupResource, SearchMethods, stock.GroupSearchView):
    pass
