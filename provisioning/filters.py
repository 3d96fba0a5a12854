"""SCIM filters (RFC 7644 §3.4.2.2) translated into Django Q objects.

scim2-filter-parser reads the filter into its AST; this module turns that AST into a
Q over our own fields. The view ANDs the result with the organization, so no `or`
in a filter can reach another tenant, and values travel as query parameters (the
ORM escapes LIKE wildcards in co/sw/ew). Unknown attributes and meaningless
comparisons are refused with invalidFilter rather than silently ignored.
"""

import uuid

from django.db import connection
from django.db.models import BooleanField, F, Func, Q, Value
from django.db.models.functions import Lower
from django.db.models.lookups import (
    Contains,
    EndsWith,
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    IEndsWith,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
    StartsWith,
)
from django.utils.dateparse import parse_datetime
from django_scim.filters import FilterQuery
from scim2_filter_parser import ast as scim_ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser

from accounts import email_search
from accounts.folding import casefold_key
from accounts.models import Group, Membership, User
from provisioning import attributes as table
from provisioning.attributes import (
    BOOLEAN_FILTER,
    COMPLEX,
    DATETIME_FILTER,
    GROUP,
    ID_FILTER,
    MEMBER_FILTER,
    TEXT,
    USER,
    Attribute,
)
from provisioning.errors import INVALID_FILTER, BadRequest

# The ORM escapes LIKE wildcards in these; on PostgreSQL the case-insensitive ones
# compile to UPPER(column::text) LIKE UPPER(%s), which the trigram indexes serve.
STRING_LOOKUPS = {
    "co": (Contains, IContains),
    "sw": (StartsWith, IStartsWith),
    "ew": (EndsWith, IEndsWith),
}
ORDER_LOOKUPS = {
    "gt": GreaterThan,
    "ge": GreaterThanOrEqual,
    "lt": LessThan,
    "le": LessThanOrEqual,
}
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
    """Translates one parsed filter for one resource type, from the attribute table."""

    def __init__(self, resource: str):
        self.resource = resource

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
            return selector & self.compare(target, node, one_value=True)
        if namespace is not None:
            # Inside brackets, names are sub-attributes of the bracketed attribute.
            path = scim_ast.AttrPath(
                namespace.attr_name, scim_ast.SubAttr(path.attr_name), namespace.uri
            )
            return self.compare(path, node, one_value=True)
        return self.compare(path, node)

    def resolve(self, path) -> Attribute:
        name = path.attr_name
        sub = path.sub_attr.value if path.sub_attr is not None else None
        schema = table.known_schema(self.resource, path.uri or None)
        if schema is None:
            raise invalid(f"Unknown schema {path.uri!r} in filter.")
        attribute = table.lookup(self.resource, schema, name, sub)
        if attribute is not None and attribute.type == COMPLEX and attribute.multi_valued:
            # RFC 7644 §3.4.2.2: a multi-valued attribute compares its "value".
            attribute = table.lookup(self.resource, schema, name, "value")
        if attribute is None or attribute.filter is None:
            shown = name + (f".{sub}" if sub else "")
            raise invalid(f"Filtering on {shown!r} is not supported.")
        return attribute

    def compare(self, path, node, *, one_value: bool = False) -> Q:
        """`one_value`: inside brackets, where every comparison is about the same value,
        which only the sign-in address's columns can tell."""
        attribute = self.resolve(path)
        op = node.value.lower()
        value = node.comp_value.value if node.comp_value is not None else None
        if op == "pr":
            q = self.present(attribute)
        elif value == "null":
            # RFC 7644 §3.4.2.2: "eq null" is "not present".
            if op not in ("eq", "ne"):
                raise invalid(f"{op!r} cannot compare with null.")
            q = ~self.present(attribute) if op == "eq" else self.present(attribute)
        elif attribute.search_field and op in STRING_LOOKUPS and not one_value:
            q = self.search_every_value(attribute, op, value)
        else:
            handler = {
                TEXT: self.compare_text,
                BOOLEAN_FILTER: self.compare_boolean,
                DATETIME_FILTER: self.compare_datetime,
                ID_FILTER: self.compare_id,
                MEMBER_FILTER: self.compare_member,
            }[attribute.filter]
            q = handler(attribute, op, value)
        value_row = self.value_row(attribute)
        if value_row is not None:
            # The type of the sign-in address only describes an address that exists.
            q &= self.present(value_row)
        return q

    def value_row(self, attribute: Attribute) -> Attribute | None:
        """The `value` of a multi-valued attribute whose sub-attribute has its own column."""
        if attribute.sub in (None, "value"):
            return None
        value = table.lookup(self.resource, attribute.schema, attribute.name, "value")
        if value is None or value.query in (None, attribute.query):
            return None
        return value

    @staticmethod
    def present(attribute: Attribute) -> Q:
        if attribute.filter in (BOOLEAN_FILTER, DATETIME_FILTER, ID_FILTER):
            return Q()
        if attribute.filter == MEMBER_FILTER:
            return Q(pk__in=Membership.objects.values("group_id"))
        if "__" in attribute.query:  # a key inside a JSON column
            return Q(**{f"{attribute.query}__isnull": False}) & ~Q(**{attribute.query: ""})
        return ~Q(**{attribute.query: ""})

    @staticmethod
    def compare_text(attribute: Attribute, op: str, value) -> Q:
        if value in ("true", "false"):
            raise invalid(f"{attribute.path} is compared with a string, not a boolean.")
        if op in ("eq", "ne") and attribute.folded_key:
            # userName/email equality uses the stored key, as the unique constraint
            # does (accounts.folding), so a filter finds what a create would clash with.
            q = Q(**{attribute.folded_key: casefold_key(str(value))})
            return ~q if op == "ne" else q
        if op in ("eq", "ne"):
            # lower(column) = lower(value): the form the Lower(...) indexes serve.
            expected = Lower(Value(value)) if attribute.case_ignored else Value(value)
            q = Q(Exact(attribute.expression(), expected))
            return ~q if op == "ne" else q
        if op in STRING_LOOKUPS:
            exact, ignored = STRING_LOOKUPS[op]
            lookup = ignored if attribute.case_ignored else exact
            return Q(lookup(attribute.column(), value))
        if op in ORDER_LOOKUPS:
            return Q(ORDER_LOOKUPS[op](attribute.column(), value))
        raise invalid(f"Unknown operator {op!r}.")

    @staticmethod
    def search_every_value(attribute: Attribute, op: str, value) -> Q:
        """co/sw/ew on every value (RFC 7644 §3.4.2.2), not only the sign-in address."""
        if value in ("true", "false"):
            raise invalid(f"{attribute.path} is compared with a string, not a boolean.")
        needle = email_search.needle(op, str(value))
        q = Q(Contains(F(attribute.search_field), needle))
        keys = email_search.index_keys(needle)
        if keys and connection.vendor == "postgresql":
            q &= Q(SubstringKeysContain(F(attribute.search_field), keys))
        return q

    @staticmethod
    def compare_boolean(attribute: Attribute, op: str, value) -> Q:
        if value not in ("true", "false") or op not in ("eq", "ne"):
            raise invalid(f"{attribute.path} takes eq/ne with true or false.")
        q = Q(**{attribute.query: value == "true"})
        return ~q if op == "ne" else q

    @staticmethod
    def compare_datetime(attribute: Attribute, op: str, value) -> Q:
        moment = parse_datetime(value) if isinstance(value, str) else None
        if moment is None or moment.tzinfo is None:
            raise invalid("Dates in filters are RFC 3339 date-times with a time zone.")
        if op in ("eq", "ne"):
            q = Q(**{attribute.query: moment})
            return ~q if op == "ne" else q
        if op in ORDER_LOOKUPS:
            return Q(ORDER_LOOKUPS[op](attribute.column(), moment))
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


class SubstringKeysContain(Func):
    """PostgreSQL: `roster_substring_keys(column) @> keys`, which the GIN index on that
    expression answers (accounts.email_search, migration accounts 0013)."""

    function = email_search.KEYS_FUNCTION
    output_field = BooleanField()

    def __init__(self, column, keys: list[str]):
        super().__init__(column)
        self.keys = keys

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = super().as_sql(compiler, connection, **extra_context)
        return f"{sql} @> %s::text[]", [*params, self.keys]


USER_FILTER = FilterTranslator(USER)
GROUP_FILTER = FilterTranslator(GROUP)


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
