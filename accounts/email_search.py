"""Substring search over every email value of a user (SCIM `emails.value co/sw/ew`).

RFC 7644 §3.4.2.2 matches a filter on a multi-valued attribute when any value matches,
so the search cannot look at the sign-in address alone. `User.email_search` holds every
value of profile["emails"], folded with the comparison key of accounts.folding and each
one between two SEPARATORs: `co x` is "contains x", `sw x` is "contains SEPARATOR x",
`ew x` is "contains x SEPARATOR". The separator is U+2126 OHM SIGN, which NFKC maps to
U+03A9: no folded value and no folded search term can contain it, so no match spans
two values.

On PostgreSQL an index finds the candidates without reading the organization's users.
A pg_trgm index would not do: a LIKE pattern needs all its trigrams, and the trigrams
that every address shares ("@ex", "com") have posting lists as long as the table, which
the scan reads whichever trigram is rare. Here the index holds every substring of 3 and
of 6 characters of the column (SUBSTRING_KEYS_SQL), and a search asks only for a few
keys that together cover the term, 6 characters long when the term allows: a 6-character
key is rarely common, and few keys means few posting lists. The LIKE on the column then
makes the answer exact.
"""

from accounts.folding import casefold_key

SEPARATOR = "\u2126"
# The key lengths of SUBSTRING_KEYS_SQL, longest first: a search uses the longest that
# fits in its term; a term shorter than the shortest cannot use the index.
KEY_LENGTHS = (6, 3)
KEYS_FUNCTION = "roster_substring_keys"
# Every substring of 3 and of 6 characters (KEY_LENGTHS; a test holds the two equal).
SUBSTRING_KEYS_SQL = """
CREATE OR REPLACE FUNCTION roster_substring_keys(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(value, start, size)), '{}')
    FROM unnest(ARRAY[6, 3]) AS size, generate_series(1, length(value) - size + 1) AS start
$$
"""


def search_text(emails) -> str:
    """What `User.email_search` holds for these profile["emails"] entries."""
    values = [
        casefold_key(entry["value"])
        for entry in emails or []
        if isinstance(entry, dict) and isinstance(entry.get("value"), str) and entry["value"]
    ]
    return "".join(f"{SEPARATOR}{value}{SEPARATOR}" for value in values)


def needle(op: str, value: str) -> str:
    """The text that `email_search` contains when some value matches `op` ("co"/"sw"/"ew")."""
    folded = casefold_key(value)
    return {"co": folded, "sw": SEPARATOR + folded, "ew": folded + SEPARATOR}[op]


def index_keys(text: str) -> list[str]:
    """Substrings of `text`, of one of KEY_LENGTHS, that together cover it; [] if too short.

    Keys start every `size` characters, and the last one ends where `text` ends; a row
    whose keys include all of them is a candidate, and the LIKE decides.
    """
    for size in KEY_LENGTHS:
        if len(text) >= size:
            starts = {*range(0, len(text) - size + 1, size), len(text) - size}
            return sorted({text[start : start + size] for start in starts})
    return []
