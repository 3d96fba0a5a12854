"""Filters on multi-valued attributes: a filter matches when any value matches.

RFC 7644 §3.4.2.2: "If the specified attribute in a filter expression is a
multi-valued attribute, the filter matches if any of the values of the specified
attribute match the specified criterion", and a value filter in brackets
(`emails[type eq "work" and value co "@example.com"]`) is about one value at a time.

Three expressions do it:
- emails outside brackets search `User.email_search`, every value folded with
  accounts.folding and served by its substring-key index (accounts.email_search);
- phoneNumbers outside brackets compare `roster_scim_values(profile -> 'phoneNumbers')`,
  every value lower-cased, which a GIN index on that expression serves (PostgreSQL;
  provisioning migration 0004);
- brackets test each value of the list in `profile` by itself (ValuesMatch). When the
  brackets or the comparison after them name a value, one of the indexed expressions
  above is ANDed in, so the database reads only the users that hold that value.

Inside brackets strings are compared with the database's `lower()`; the indexed
comparisons fold as userName does. The two agree except on the few letters whose case
folding is not a lower-casing (ß, final sigma), where a bracketed comparison is stricter.
"""

from django.db import connection
from django.db.models import BooleanField, F, Func, Q
from django.db.models.lookups import Contains
from scim2_filter_parser import ast as scim_ast

from accounts import email_search
from accounts.folding import casefold_key
from provisioning.attributes import BOOLEAN, Attribute, lookup
from provisioning.errors import INVALID_FILTER, BadRequest

# Defined by provisioning migration 0004: every non-empty "value" of a JSON list of
# objects, lower-cased, as a text array (GIN-indexed for phoneNumbers).
VALUES_FUNCTION = "roster_scim_values"
STRING_OPERATORS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")


def invalid(detail: str) -> BadRequest:
    return BadRequest(detail, scim_type=INVALID_FILTER)


# -- outside brackets ---------------------------------------------------------------


def email_needle(op: str, value: str) -> str:
    """What `email_search` contains when some email value matches `op`."""
    if op == "eq":
        folded = casefold_key(value)
        return f"{email_search.SEPARATOR}{folded}{email_search.SEPARATOR}"
    return email_search.needle(op, value)


def email_search_q(search_field: str, op: str, value: str) -> Q:
    """eq/co/sw/ew on any email value, through the substring-key index."""
    needle = email_needle(op, value)
    q = Q(Contains(F(search_field), needle))
    keys = email_search.index_keys(needle)
    if keys and connection.vendor == "postgresql":
        q &= Q(SubstringKeysContain(F(search_field), keys))
    return q


def any_value_equals_q(attribute: Attribute, value: str) -> Q:
    """Some value of a multi-valued attribute kept in `profile` equals `value`, any case."""
    if connection.vendor == "postgresql":
        return Q(ScimValuesContain(F("profile"), attribute.name, value.lower()))
    condition = ElementCondition(attribute)
    return Q(ValuesMatch(F("profile"), attribute.name, *condition.compare("value", "eq", value)))


def any_value_present_q(attribute: Attribute) -> Q:
    condition = ElementCondition(attribute)
    return Q(ValuesMatch(F("profile"), attribute.name, *condition.compare("value", "pr", None)))


class SubstringKeysContain(Func):
    """PostgreSQL: `roster_substring_keys(column) @> keys`, which the GIN index on that
    expression answers (accounts.email_search, migration accounts 0015)."""

    function = email_search.KEYS_FUNCTION
    output_field = BooleanField()

    def __init__(self, column, keys: list[str]):
        super().__init__(column)
        self.keys = keys

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = super().as_sql(compiler, connection, **extra_context)
        return f"{sql} @> %s::text[]", [*params, self.keys]


class ScimValuesContain(Func):
    """PostgreSQL: `roster_scim_values(profile -> '<name>') @> ARRAY[<value>]`, which the
    GIN index on that expression answers (provisioning migration 0004)."""

    output_field = BooleanField()

    def __init__(self, column, name: str, lowered: str):
        super().__init__(column)
        self.name = name
        self.lowered = lowered

    def as_sql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        # The name comes from the attribute table, never from the request.
        sql = f"{VALUES_FUNCTION}(({column} -> '{self.name}')) @> ARRAY[%s]::text[]"
        return sql, [*params, self.lowered]


# -- inside brackets ----------------------------------------------------------------

# How each database reads one element of a JSON list and compares strings.
DIALECTS = {
    "postgresql": {
        "elements": "jsonb_array_elements(CASE jsonb_typeof({list}) WHEN 'array' "
        "THEN {list} ELSE '[]'::jsonb END) AS scim_value",
        "list": "({column} -> '{name}')",
        "item": "(CASE WHEN jsonb_typeof(scim_value) = 'object' THEN scim_value ->> '{key}' END)",
        "contains": "strpos({a}, {b}) > 0",
    },
    "sqlite": {
        "elements": "json_each(CASE json_type({list}) WHEN 'array' "
        "THEN {list} ELSE '[]' END) AS scim_value",
        "list": "json_extract({column}, '$.{name}')",
        "item": "(CASE WHEN scim_value.type = 'object' "
        "THEN json_extract(scim_value.value, '$.{key}') END)",
        "contains": "instr({a}, {b}) > 0",
    },
}


def dialect(vendor: str) -> dict:
    try:
        return DIALECTS[vendor]
    except KeyError:
        raise invalid("Filters on multi-valued attributes need PostgreSQL or SQLite.") from None


class ElementCondition:
    """The SQL condition on one element (`scim_value`) of a multi-valued attribute, built
    from a bracketed filter; every value travels as a parameter."""

    def __init__(self, attribute: Attribute, vendor: str | None = None):
        self.attribute = attribute
        self.vendor = vendor or connection.vendor

    def sub(self, name: str) -> Attribute:
        sub = lookup(self.attribute.resource, self.attribute.schema, self.attribute.name, name)
        if sub is None:
            raise invalid(f"{self.attribute.name} has no sub-attribute {name!r}.")
        return sub

    def translate(self, node) -> tuple[str, list]:
        if isinstance(node, scim_ast.Filter):
            if node.namespace is not None:
                raise invalid("Value filters do not nest.")
            sql, params = self.translate(node.expr)
            return (f"NOT ({sql})" if node.negated else sql), params
        if isinstance(node, scim_ast.LogExpr):
            left, left_params = self.translate(node.expr1)
            right, right_params = self.translate(node.expr2)
            joiner = "AND" if node.op.lower() == "and" else "OR"
            return f"({left} {joiner} {right})", [*left_params, *right_params]
        if isinstance(node, scim_ast.AttrExpr) and isinstance(node.attr_path.attr_name, str):
            if node.attr_path.sub_attr is not None or node.attr_path.uri:
                raise invalid('Inside brackets, name sub-attributes alone: [type eq "work"].')
            value = node.comp_value.value if node.comp_value is not None else None
            return self.compare(node.attr_path.attr_name, node.value.lower(), value)
        raise invalid("The value filter has an unsupported form.")

    def compare(self, name: str, op: str, value) -> tuple[str, list]:
        sub = self.sub(name)
        item = dialect(self.vendor)["item"].format(key=sub.sub)
        if op == "pr":
            return f"coalesce({item}, '') <> ''", []
        if value == "null":
            if op not in ("eq", "ne"):
                raise invalid(f"{op!r} cannot compare with null.")
            present = f"coalesce({item}, '') <> ''"
            return (f"NOT ({present})" if op == "eq" else present), []
        if sub.type == BOOLEAN:
            return self.compare_boolean(sub, item, op, value)
        if op not in STRING_OPERATORS:
            raise invalid(f"Unknown operator {op!r}.")
        if value in ("true", "false") or value is None:
            raise invalid(f"{sub.path} is compared with a string.")
        return self.compare_text(sub, item, op, str(value))

    @staticmethod
    def compare_boolean(sub: Attribute, item: str, op: str, value) -> tuple[str, list]:
        if value not in ("true", "false") or op not in ("eq", "ne"):
            raise invalid(f"{sub.path} takes eq/ne with true or false.")
        # JSON true/false read as text: 'true'/'false' (PostgreSQL), 1/0 (SQLite).
        truthy = f"lower(CAST({item} AS text)) IN ('true', '1')"
        wanted = value == "true"
        return (truthy if wanted == (op == "eq") else f"NOT coalesce({truthy}, false)"), []

    def compare_text(self, sub: Attribute, item: str, op: str, value: str) -> tuple[str, list]:
        folded = not sub.case_exact
        actual = f"lower({item})" if folded else item
        expected = "lower(%s)" if folded else "%s"
        if op == "eq":
            return f"{actual} = {expected}", [value]
        if op == "ne":
            return f"coalesce({actual} <> {expected}, true)", [value]
        if op == "co":
            contains = dialect(self.vendor)["contains"].format(a=actual, b=expected)
            return contains, [value]
        if op == "sw":
            return f"substr({actual}, 1, length({expected})) = {expected}", [value, value]
        if op == "ew":
            start = f"length({actual}) - length({expected}) + 1"
            return f"substr({actual}, {start}) = {expected}", [value, value]
        comparison = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}[op]
        return f"{actual} {comparison} {expected}", [value]


class ValuesMatch(Func):
    """Some element of `profile[name]` satisfies the condition (an EXISTS over the list)."""

    output_field = BooleanField()

    def __init__(self, column, name: str, condition: str, params: list):
        super().__init__(column)
        self.name = name
        self.condition = condition
        self.condition_params = params

    def as_sql(self, compiler, connection, **extra_context):
        column, column_params = compiler.compile(self.source_expressions[0])
        sql = dialect(connection.vendor)
        # The name comes from the attribute table, never from the request.
        listed = sql["list"].format(column=column, name=self.name)
        elements = sql["elements"].format(list=listed)
        repeats = elements.count(column)
        return (
            # Names from the attribute table; every value is a parameter.
            f"EXISTS (SELECT 1 FROM {elements} WHERE {self.condition})",  # noqa: S608
            [*column_params * repeats, *self.condition_params],
        )
