"""`attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) applied to a resource."""

import re

from provisioning.attributes import TABLES
from provisioning.errors import INVALID_VALUE, BadRequest
from provisioning.schemas import CORE_GROUP, CORE_USER

# RFC 7644 §3.10 attribute notation: [URN ":"] attrName ["." subAttr]. A value filter
# (`emails[type eq "work"]`) is not part of it.
_NAME = re.compile(r"^(?:urn:[^\[\]\s]+:)?[A-Za-z$][\w$-]*(?:\.[A-Za-z$][\w$-]*)?$", re.I)
CORE_URNS = {CORE_USER.lower(), CORE_GROUP.lower()}
# RFC 7643 §3.1/§7: returned "always", whatever the client asks.
ALWAYS = {"schemas"} | {
    a.name for rows in TABLES.values() for a in rows if a.sub is None and a.returned == "always"
}


def parse_names(raw) -> list[tuple[str | None, str, str | None]]:
    """'userName,name.givenName,urn:...:User:department' -> [(urn, attr, sub), ...], lowered."""
    if raw is None:
        return []
    items = raw.split(",") if isinstance(raw, str) else raw
    names = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            continue
        item = item.strip()
        if not _NAME.match(item):
            raise BadRequest(
                f"{item!r} is not an attribute name (RFC 7644 §3.10: [URN:]name[.subAttr]).",
                scim_type=INVALID_VALUE,
            )
        urn = None
        if item.lower().startswith("urn:"):
            urn, _, item = item.rpartition(":")
            urn = urn.lower()
            if urn in CORE_URNS:
                urn = None
        attr, _, sub = item.partition(".")
        names.append((urn, attr.lower(), sub.lower() or None))
    return names


def _select(value, subs: set[str] | None, keep: bool):
    """Keep (or drop) the named sub-attributes of a complex or multi-valued value."""
    if not subs:
        return value
    if isinstance(value, list):
        return [_select(item, subs, keep) for item in value]
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if (k.lower() in subs) == keep}
    return value


def _index(names) -> dict:
    """{(urn, attr): set of subs or None for the whole attribute}."""
    index: dict = {}
    for urn, attr, sub in names:
        key = (urn, attr)
        if sub is None:
            index[key] = None
        elif key not in index or index[key] is not None:
            index.setdefault(key, set()).add(sub)
    return index


def _split(resource: dict):
    """Yield (urn, key, value) for core keys and for keys inside extension objects."""
    for key, value in resource.items():
        if key.lower().startswith("urn:") and isinstance(value, dict):
            for sub_key, sub_value in value.items():
                yield key, sub_key, sub_value
        else:
            yield None, key, value


def project(resource: dict, attributes=None, excluded=None) -> dict:
    wanted = _index(parse_names(attributes))
    unwanted = _index(parse_names(excluded))
    if not wanted and not unwanted:
        return resource
    result: dict = {}
    for urn, key, value in _split(resource):
        index_key = (urn.lower() if urn else None, key.lower())
        if urn is None and key in ALWAYS:
            kept = value
        elif wanted:
            if index_key not in wanted:
                continue
            kept = _select(value, wanted[index_key], keep=True)
        else:
            if index_key in unwanted and unwanted[index_key] is None:
                continue
            kept = _select(value, unwanted.get(index_key), keep=False)
        if urn is None:
            result[key] = kept
        else:
            result.setdefault(urn, {})[key] = kept
    return result


def excludes(attributes, excluded, name: str) -> bool:
    """Whether the projection leaves out the top-level attribute `name` entirely."""
    name = name.lower()
    wanted = _index(parse_names(attributes))
    if wanted:
        return (None, name) not in wanted
    unwanted = _index(parse_names(excluded))
    return (None, name) in unwanted and unwanted[(None, name)] is None


def requests(attributes, name: str, sub: str) -> bool:
    """Whether `attributes` explicitly names the sub-attribute name.sub (returned "request")."""
    return (None, name.lower(), sub.lower()) in set(parse_names(attributes))
