"""Reading a SCIM request body as JSON with bounded work and no surprise 500s.

Python's json module accepts what RFC 8259 does not (NaN, Infinity), turns 1e400 into
an infinite float, recurses once per nesting level, and decodes a lone UTF-16
surrogate escape ("\\ud800") into a string that no database can store. Each is refused
here, before any of it reaches the views.
"""

import json
import math
import re
from itertools import accumulate

from provisioning.errors import INVALID_SYNTAX, INVALID_VALUE, BadRequest

# A SCIM resource nests a few levels (User > enterprise > manager); 32 is plenty.
MAX_DEPTH = 32

# Every byte but brackets and quotes goes; UTF-8 never reuses those bytes inside a
# multi-byte character.
_NOT_SKELETON = bytes(b for b in range(256) if b not in b'[]{}"')
_QUOTED = re.compile(rb'"[^"]*"')
_NESTING = [0] * 256
_NESTING[ord("[")] = _NESTING[ord("{")] = 1
_NESTING[ord("]")] = _NESTING[ord("}")] = -1
# \ud800-\udfff written as an escape; a valid pair is decoded into one code point.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def nesting_depth(raw: bytes) -> int:
    """How deep arrays and objects nest, found without recursion or a Python loop.

    Escaped backslashes and quotes are dropped first, so every remaining quote opens or
    closes a string; strings are then cut out and the brackets counted.
    """
    plain = raw.replace(b"\\\\", b"").replace(b'\\"', b"") if b"\\" in raw else raw
    skeleton = _QUOTED.sub(b"", plain.translate(None, _NOT_SKELETON))
    return max(accumulate(map(_NESTING.__getitem__, skeleton)), default=0)


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    return nesting_depth(raw) > limit


def _refuse_constant(name: str):
    raise BadRequest(f"{name} is not a JSON number (RFC 8259 §6).", scim_type=INVALID_VALUE)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadRequest(f"The number {text[:40]} is out of range.", scim_type=INVALID_VALUE)
    return value


def _strings_of(document):
    """Every key and string value, walked without recursion."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            yield from (key for key in value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def _has_lone_surrogate(document) -> bool:
    return any(_SURROGATE.search(text) for text in _strings_of(document))


def parse_json_body(raw: bytes, *, max_depth: int = MAX_DEPTH):
    """The parsed body; BadRequest (a SCIM 400) for anything that is not plain JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The body is not UTF-8.", scim_type=INVALID_SYNTAX) from None
    if too_deep(raw, max_depth):
        raise BadRequest(
            f"The body nests deeper than {max_depth} levels.", scim_type=INVALID_SYNTAX
        )
    try:
        document = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        # ValueError also covers integers longer than Python's 4,300-digit limit.
        raise BadRequest("The body is not valid JSON.", scim_type=INVALID_SYNTAX) from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(document):
        raise BadRequest(
            "The body holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not a character.",
            scim_type=INVALID_VALUE,
        )
    return document
