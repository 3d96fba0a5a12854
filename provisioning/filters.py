"""SCIM filters (RFC 7644 §3.4.2.2) translated into Django Q objects.

scim2-filter-parser reads the filter into its AST; this module turns that AST into a
Q over our own fields. The view ANDs the result with the organization, so no `or`
in a filter can reach another tenant, and values travel as query parameters (the
ORM escapes LIKE wildcards in co/sw/ew). Unknown attributes and meaningless
comparisons are refused with invalidFilter rather than silently ignored.
"""

import uuid
from dataclasses import dataclass

from django.db.models import Q, Value
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.utils.dateparse import parse_datetime
from django_scim.filters import FilterQuery
from scim2_filter_parser import ast as scim_ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser

from accounts.folding import casefold_key
from accounts.models import Group, Membership, User
from provisioning.errors import INVALID_FILTER, BadRequest
from provisioning.schemas import CORE_GROUP, CORE_USER, ENTERPRISE_USER

STRING = "string"
CASE_EXACT = "caseExact"
BOOLEAN = "boolean"
DATETIME = "dateTime"
ID = "id"
MEMBER = "member"
EMAIL_TYPE = "emailType"
EMAIL_PRIMARY = "emailPrimary"


@dataclass(frozen=True)
class Attribute:
    field: str
    kind: str = STRING


# Fields whose eq/ne compares the stored case-folded key (accounts.folding).
FOLDED_KEYS = {"username": "username_key", "email": "email_key"}

# (attribute, sub-attribute) in lower case -> how to filter on it.
USER_ATTRIBUTES = {
    ("id", None): Attribute("id", ID),
    ("username", None): Attribute("username"),
    ("externalid", None): Attribute("external_id", CASE_EXACT),
    ("displayname", None): Attribute("display_name"),
    ("title", None): Attribute("title"),
    ("locale", None): Attribute("locale"),
    ("active", None): Attribute("is_active", BOOLEAN),
    ("name", "givenname"): Attribute("given_name"),
    ("name", "familyname"): Attribute("family_name"),
    ("name", "formatted"): Attribute("name_formatted"),
    # One work email per user: emails, emails.value and emails[type eq "work"] all
    # name it.
    ("emails", None): Attribute("email"),
    ("emails", "value"): Attribute("email"),
    ("emails", "type"): Attribute("email_type", EMAIL_TYPE),
    ("emails", "primary"): Attribute("email_primary", EMAIL_PRIMARY),
    ("meta", "created"): Attribute("created_at", DATETIME),
    ("meta", "lastmodified"): Attribute("updated_at", DATETIME),
}
ENTERPRISE_ATTRIBUTES = {
    ("department", None): Attribute("enterprise__department"),
    ("employeenumber", None): Attribute("enterprise__employeeNumber", CASE_EXACT),
    ("costcenter", None): Attribute("enterprise__costCenter"),
    ("division", None): Attribute("enterprise__division"),
    ("organization", None): Attribute("enterprise__organization"),
    ("manager", "value"): Attribute("enterprise__manager__value", CASE_EXACT),
}
GROUP_ATTRIBUTES = {
    ("id", None): Attribute("id", ID),
    ("displayname", None): Attribute("display_name"),
    ("externalid", None): Attribute("external_id", CASE_EXACT),
    ("members", None): Attribute("memberships", MEMBER),
    ("members", "value"): Attribute("memberships", MEMBER),
    ("meta", "created"): Attribute("created_at", DATETIME),
    ("meta", "lastmodified"): Attribute("updated_at", DATETIME),
}

STRING_LOOKUPS = {"co": "contains", "sw": "startswith", "ew": "endswith"}
ORDER_LOOKUPS = {"gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}
NOTHING = Q(pk__in=[])
# Every and/or/not/grouping adds a level; real identity-provider filters use a few.
MAX_FILTER_DEPTH = 64
MAX_FILTER_LENGTH = 8192


def invalid(detail: str) -> BadRequest:
    return BadRequest(detail, scim_type=INVALID_FILTER)


COMPARISON_TOKENS = {"EQ", "NE", "CO", "SW", "EW", "GT", "GE", "LT", "LE"}
LITERALS = {"true", "false", "null"}


def _tokens(text: str):
    """The lexer's tokens, with TRUE/False/NULL read as the literals they are.

    RFC 7644 §3.4.2.2 takes its grammar from RFC 5234, where literal text is
    case-insensitive; the lexer only knows the lower-case spellings.
    """
    previous = None
    for token in SCIMLexer().tokenize(text):
        literal = token.value.lower() if token.type == "ATTRNAME" else None
        if previous in COMPARISON_TOKENS and literal in LITERALS:
            token.type, token.value = literal.upper(), literal
        previous = token.type
        yield token


def _depth(node) -> int:
    """How deeply the AST nests, measured without recursion."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, scim_ast.Filter):
            stack.append((node.expr, depth + 1))
        elif isinstance(node, scim_ast.LogExpr):
            stack += [(node.expr1, depth + 1), (node.expr2, depth + 1)]
        elif isinstance(node, scim_ast.AttrExpr) and isinstance(
            node.attr_path.attr_name, scim_ast.Filter
        ):
            stack.append((node.attr_path.attr_name, depth + 1))
    return deepest


def parse(text: str):
    """The filter's AST; any syntax error is invalidFilter.

    Length and nesting are bounded so that neither the translation nor the SQL
    compiler recurses without limit on a hostile filter.
    """
    if not isinstance(text, str) or not text.strip():
        raise invalid("The filter is empty.")
    if "\x00" in text:
        raise invalid("The filter must not contain NUL characters.")
    if len(text) > MAX_FILTER_LENGTH:
        raise invalid(f"The filter is longer than {MAX_FILTER_LENGTH} characters.")
    try:
        node = SCIMParser().parse(_tokens(text))
    except Exception as error:  # the lexer and parser raise several unrelated types
        raise invalid(f"The filter could not be parsed: {error}") from None
    if node is not None and _depth(node) > MAX_FILTER_DEPTH:
        raise invalid("The filter nests too deeply; split it into several requests.")
    return node


class FilterTranslator:
    """Translates one parsed filter for one resource type."""

    def __init__(self, attributes: dict, core_urn: str, extensions: dict | None = None):
        self.attributes = attributes
        self.core_urn = core_urn.lower()
        self.extensions = {urn.lower(): table for urn, table in (extensions or {}).items()}

    def to_q(self, text: str) -> Q:
        node = parse(text)
        if node is None:
            raise invalid("The filter is empty.")
        return self.visit(node, namespace=None)

    def visit(self, node, namespace) -> Q:
        if isinstance(node, scim_ast.Filter):
            inner_namespace = node.namespace if node.namespace is not None else namespace
            q = self.visit(node.expr, inner_namespace)
            return ~q if node.negated else q
        if isinstance(node, scim_ast.LogExpr):
            left = self.visit(node.expr1, namespace)
            right = self.visit(node.expr2, namespace)
            return left & right if node.op.lower() == "and" else left | right
        if isinstance(node, scim_ast.AttrExpr):
            return self.visit_comparison(node, namespace)
        raise invalid("The filter has an unsupported form.")

    def visit_comparison(self, node, namespace) -> Q:
        path = node.attr_path
        if isinstance(path.attr_name, scim_ast.Filter):
            # emails[type eq "work"].value eq "x": the bracketed filter AND the comparison.
            value_filter = path.attr_name
            outer = value_filter.namespace
            selector = self.visit(value_filter.expr, outer)
            target = scim_ast.AttrPath(outer.attr_name, outer.sub_attr, outer.uri)
            return selector & self.compare(target, node)
        if namespace is not None:
            # Inside brackets, names are sub-attributes of the bracketed attribute.
            path = scim_ast.AttrPath(
                namespace.attr_name, scim_ast.SubAttr(path.attr_name), namespace.uri
            )
        return self.compare(path, node)

    def resolve(self, path) -> Attribute:
        name = path.attr_name.lower()
        sub = path.sub_attr.value.lower() if path.sub_attr is not None else None
        table = self.attributes
        if path.uri:
            uri = path.uri.lower()
            if uri in self.extensions:
                table = self.extensions[uri]
            elif uri != self.core_urn:
                raise invalid(f"Unknown schema {path.uri!r} in filter.")
        attribute = table.get((name, sub))
        if attribute is None:
            shown = path.attr_name + (f".{path.sub_attr.value}" if sub else "")
            raise invalid(f"Filtering on {shown!r} is not supported.")
        return attribute

    def compare(self, path, node) -> Q:
        attribute = self.resolve(path)
        op = node.value.lower()
        value = node.comp_value.value if node.comp_value is not None else None
        if op == "pr":
            return self.present(attribute)
        if value == "null":
            # RFC 7644 §3.4.2.2: "eq null" is "not present".
            if op == "eq":
                return ~self.present(attribute)
            if op == "ne":
                return self.present(attribute)
            raise invalid(f"{op!r} cannot compare with null.")
        handler = {
            STRING: self.compare_string,
            CASE_EXACT: self.compare_string,
            BOOLEAN: self.compare_boolean,
            DATETIME: self.compare_datetime,
            ID: self.compare_id,
            MEMBER: self.compare_member,
            EMAIL_TYPE: self.compare_email_type,
            EMAIL_PRIMARY: self.compare_email_primary,
        }[attribute.kind]
        return handler(attribute, op, value)

    @staticmethod
    def present(attribute: Attribute) -> Q:
        if attribute.kind in (BOOLEAN, DATETIME, ID):
            return Q()
        if attribute.kind == MEMBER:
            return Q(pk__in=Membership.objects.values("group_id"))
        if "__" in attribute.field:  # a key inside the enterprise JSON
            return Q(**{f"{attribute.field}__isnull": False}) & ~Q(**{attribute.field: ""})
        return ~Q(**{attribute.field: ""})

    @staticmethod
    def compare_string(attribute: Attribute, op: str, value) -> Q:
        if value in ("true", "false"):
            raise invalid(f"{attribute.field} is compared with a string, not a boolean.")
        insensitive = "i" if attribute.kind == STRING else ""
        if op in ("eq", "ne"):
            if attribute.field in FOLDED_KEYS:
                # userName/email equality uses the stored key, as the unique constraint
                # does (accounts.folding), so a filter finds what a create would clash with.
                q = Q(**{FOLDED_KEYS[attribute.field]: casefold_key(str(value))})
            elif insensitive and "__" not in attribute.field:
                # lower(column) = lower(value): the form the Lower(...) indexes on
                # userName, email and group displayName serve (Okta's existence check).
                q = Q(Exact(Lower(attribute.field), Lower(Value(value))))
            else:
                q = Q(**{f"{attribute.field}__{insensitive}exact": value})
            return ~q if op == "ne" else q
        if op in STRING_LOOKUPS:
            return Q(**{f"{attribute.field}__{insensitive}{STRING_LOOKUPS[op]}": value})
        if op in ORDER_LOOKUPS:
            return Q(**{f"{attribute.field}__{ORDER_LOOKUPS[op]}": value})
        raise invalid(f"Unknown operator {op!r}.")

    @staticmethod
    def compare_boolean(attribute: Attribute, op: str, value) -> Q:
        if value not in ("true", "false") or op not in ("eq", "ne"):
            raise invalid(f"{attribute.field} takes eq/ne with true or false.")
        q = Q(**{attribute.field: value == "true"})
        return ~q if op == "ne" else q

    @staticmethod
    def compare_datetime(attribute: Attribute, op: str, value) -> Q:
        moment = parse_datetime(value) if isinstance(value, str) else None
        if moment is None or moment.tzinfo is None:
            raise invalid("Dates in filters are RFC 3339 date-times with a time zone.")
        if op in ("eq", "ne"):
            q = Q(**{attribute.field: moment})
            return ~q if op == "ne" else q
        if op in ORDER_LOOKUPS:
            return Q(**{f"{attribute.field}__{ORDER_LOOKUPS[op]}": moment})
        raise invalid(f"{op!r} does not apply to dates.")

    @staticmethod
    def _as_uuid(value):
        try:
            return uuid.UUID(str(value))
        except ValueError:
            return None

    def compare_id(self, attribute: Attribute, op: str, value) -> Q:
        if op not in ("eq", "ne"):
            raise invalid("id takes eq or ne.")
        parsed = self._as_uuid(value)
        q = Q(pk=parsed) if parsed is not None else NOTHING
        return ~q if op == "ne" else q

    def compare_member(self, attribute: Attribute, op: str, value) -> Q:
        if op not in ("eq", "ne"):
            raise invalid("members takes eq or ne.")
        parsed = self._as_uuid(value)
        if parsed is None:
            q = NOTHING
        else:
            q = Q(pk__in=Membership.objects.filter(user_id=parsed).values("group_id"))
        return ~q if op == "ne" else q

    # The type and primary flag describe the one address kept; without an address
    # there is no email to match.
    def compare_email_type(self, attribute: Attribute, op: str, value) -> Q:
        return ~Q(email="") & self.compare_string(Attribute(attribute.field), op, value)

    def compare_email_primary(self, attribute: Attribute, op: str, value) -> Q:
        if op != "eq":
            raise invalid("emails.primary takes eq with true or false.")
        return ~Q(email="") & self.compare_boolean(attribute, op, value)


USER_FILTER = FilterTranslator(USER_ATTRIBUTES, CORE_USER, {ENTERPRISE_USER: ENTERPRISE_ATTRIBUTES})
GROUP_FILTER = FilterTranslator(GROUP_ATTRIBUTES, CORE_GROUP)


class ScimFilterQuery(FilterQuery):
    """django-scim2's filter-parser hook, answering with a tenant-bound QuerySet."""

    translator: FilterTranslator
    attr_map: dict = {}

    @classmethod
    def search(cls, filter_query, request=None):
        organization = request.scim_organization
        return (
            cls.model_getter()
            .objects.filter(organization=organization)
            .filter(cls.translator.to_q(filter_query))
        )


class UserFilterQuery(ScimFilterQuery):
    model_getter = staticmethod(lambda: User)
    translator = USER_FILTER


class GroupFilterQuery(ScimFilterQuery):
    model_getter = staticmethod(lambda: Group)
    translator = GROUP_FILTER
