"""SCIM attribute paths (RFC 7644 §3.5.2, figure 7: PATH = attrPath / valuePath [subAttr]).

Used for PATCH `path` values and for the keys of a path-less PATCH value object,
where Entra sends dotted keys ("name.givenName") and URN-prefixed keys.
"""

import re
from dataclasses import dataclass

from scim2_filter_parser import ast as scim_ast

from provisioning.attributes import legacy_urn
from provisioning.errors import INVALID_PATH, BadRequest
from provisioning.filters import parse

_PATH = re.compile(
    r"^(?:(?P<urn>urn:[^\[\]]+):)?"
    r"(?P<attr>[A-Za-z$][\w$-]*)"
    r"(?:\[(?P<filter>[^\[\]]+)\])?"
    r"(?:\.(?P<sub>[A-Za-z$][\w$-]*))?$",
    re.IGNORECASE,  # RFC 8141: the "urn" prefix is case-insensitive too
)


@dataclass(frozen=True)
class Path:
    urn: str | None  # lower case; None for the resource's core schema
    attr: str  # lower case
    value_filter: str | None  # the text between brackets, as sent
    sub: str | None  # lower case
    text: str


def parse_path(text, *, core_urn: str, known_urns: tuple[str, ...] = ()) -> Path:
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("The PATCH path is empty.", scim_type=INVALID_PATH)
    text = text.strip()
    lowered = text.lower()
    # A bare schema URN names the whole extension object.
    for urn in (core_urn, *known_urns):
        if lowered == urn.lower():
            return Path(urn=urn.lower(), attr="", value_filter=None, sub=None, text=text)
    legacy = legacy_urn(lowered, core_urn)
    if legacy is not None:
        return Path(urn=legacy.lower(), attr="", value_filter=None, sub=None, text=text)
    match = _PATH.match(text)
    if match is None:
        raise BadRequest(f"The path {text!r} is not a valid SCIM path.", scim_type=INVALID_PATH)
    urn = match["urn"].lower() if match["urn"] else None
    if urn is not None:
        urn = (legacy_urn(urn, core_urn) or urn).lower()
    if urn == core_urn.lower():
        urn = None
    return Path(
        urn=urn,
        attr=match["attr"].lower(),
        value_filter=match["filter"].strip() if match["filter"] else None,
        sub=match["sub"].lower() if match["sub"] else None,
        text=text,
    )


def parse_key(key: str, *, core_urn: str, known_urns: tuple[str, ...] = ()) -> Path:
    """A key of a path-less value object; the same grammar as a path."""
    return parse_path(key, core_urn=core_urn, known_urns=known_urns)


def _item_value(item: dict, name: str):
    for key, value in item.items():
        if key.lower() == name:
            return value
    return None


def _compare(op: str, actual, expected: str) -> bool:
    if op == "pr":
        return actual not in (None, "", [], {})
    if isinstance(actual, bool) or expected in ("true", "false"):
        equal = str(actual).lower() == expected
        if op in ("eq", "ne"):
            return equal == (op == "eq")
        return False
    actual = "" if actual is None else str(actual).lower()
    expected = expected.lower()
    return {
        "eq": actual == expected,
        "ne": actual != expected,
        "co": expected in actual,
        "sw": actual.startswith(expected),
        "ew": actual.endswith(expected),
        "gt": actual > expected,
        "ge": actual >= expected,
        "lt": actual < expected,
        "le": actual <= expected,
    }.get(op, False)


def _evaluate(node, item: dict) -> bool:
    if isinstance(node, scim_ast.Filter):
        result = _evaluate(node.expr, item)
        return not result if node.negated else result
    if isinstance(node, scim_ast.LogExpr):
        left, right = _evaluate(node.expr1, item), _evaluate(node.expr2, item)
        return (left and right) if node.op.lower() == "and" else (left or right)
    if isinstance(node, scim_ast.AttrExpr) and isinstance(node.attr_path.attr_name, str):
        name = node.attr_path.attr_name.lower()
        expected = node.comp_value.value if node.comp_value is not None else ""
        return _compare(node.value.lower(), _item_value(item, name), expected)
    raise BadRequest("The value filter has an unsupported form.", scim_type=INVALID_PATH)


def value_filter_matches(filter_text: str, item: dict) -> bool:
    """Whether one element of a multi-valued attribute ({"type": ..., "value": ...}) matches."""
    return _evaluate(parse(filter_text), item)


MEMBER_FILTER_FORM = 'Member filters name members by value: members[value eq "<id>"].'


def value_filter_ids(filter_text: str, *, refusal: str = MEMBER_FILTER_FORM) -> list[str]:
    """The values named by `value eq "..."` terms joined with `or` (Okta's member removal);
    any other filter is invalidPath with `refusal` as its detail."""
    ids: list[str] = []

    def collect(node):
        if isinstance(node, scim_ast.Filter) and not node.negated:
            return collect(node.expr)
        if isinstance(node, scim_ast.LogExpr) and node.op.lower() == "or":
            return collect(node.expr1) and collect(node.expr2)
        if (
            isinstance(node, scim_ast.AttrExpr)
            and isinstance(node.attr_path.attr_name, str)
            and node.attr_path.attr_name.lower() == "value"
            and node.attr_path.sub_attr is None
            and node.value.lower() == "eq"
            and node.comp_value is not None
        ):
            ids.append(node.comp_value.value)
            return True
        return False

    if not collect(parse(filter_text)):
        raise BadRequest(refusal, scim_type=INVALID_PATH)
    return ids


def filter_type(filter_text: str) -> str | None:
    """The type a value filter names when it is exactly `type eq "<type>"`, else None."""
    node = parse(filter_text)
    while isinstance(node, scim_ast.Filter) and not node.negated and node.namespace is None:
        node = node.expr
    if (
        isinstance(node, scim_ast.AttrExpr)
        and isinstance(node.attr_path.attr_name, str)
        and node.attr_path.attr_name.lower() == "type"
        and node.attr_path.sub_attr is None
        and node.value.lower() == "eq"
        and node.comp_value is not None
    ):
        return node.comp_value.value
    return None
