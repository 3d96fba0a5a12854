"""Discovery endpoints (RFC 7644 §4) and the answers for everything else under the base."""

from django.http import HttpResponse
from django_scim import views as stock

from provisioning import schemas
from provisioning.custom_attributes import custom_schema
from provisioning.errors import NotFound, error_response
from provisioning.paging import service_provider_pagination
from provisioning.views.base import ScimView, list_response, scim_response


class ServiceProviderConfigView(ScimView, stock.ServiceProviderConfigView):
    def get(self, request, *args, **kwargs):
        return scim_response(
            {**schemas.service_provider_config(), "pagination": service_provider_pagination()}
        )


def _discovery_list(documents: list[dict]) -> HttpResponse:
    return list_response(documents, total=len(documents), start_index=1)


def _discovery_item(documents: list[dict], wanted: str) -> HttpResponse:
    for document in documents:
        if document["id"].lower() == wanted.lower():
            return scim_response(document)
    raise NotFound(f"No {wanted!r} here.")


class ResourceTypesView(ScimView, stock.ResourceTypesView):
    def get(self, request, uuid=None, *args, **kwargs):
        documents = schemas.resource_type_documents(custom_schema(request.scim_organization))
        return _discovery_item(documents, uuid) if uuid else _discovery_list(documents)


class SchemasView(ScimView, stock.SchemasView):
    def get(self, request, uuid=None, *args, **kwargs):
        documents = schemas.schema_documents(custom_schema(request.scim_organization))
        return _discovery_item(documents, uuid) if uuid else _discovery_list(documents)


class NotImplementedView(ScimView):
    """Endpoints of RFC 7644 this service does not offer (/Bulk, /Me, root search)."""

    http_method_names = ["get", "post", "put", "patch", "delete"]

    def dispatch_not_implemented(self, request, *args, **kwargs):
        return error_response(501, "This SCIM endpoint is not implemented.")

    get = post = put = patch = delete = dispatch_not_implemented


class UnknownPathView(ScimView):
    """Anything else under the SCIM base answers a SCIM 404, not an HTML page."""

    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def not_found(self, request, *args, **kwargs):
        return error_response(404, f"No SCIM endpoint at {request.path}.")

    get = post = put = patch = delete = head = options = not_found
