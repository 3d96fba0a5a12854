# ruff: noqa: RUF002  (the examples are the point: non-ASCII letters on purpose)
"""What "the same userName in any case" means, decided once for Python and the database.

RFC 7643 §4.1.1 makes userName unique "in any case" without saying which case folding.
Python's str.lower() and PostgreSQL's lower() disagree outside ASCII (Greek final
sigma, Turkish dotted I, German sharp s), so lookups and the unique constraint could
disagree too. Instead the key is computed here, stored in a column of its own, and
that column carries the unique constraint; every lookup compares keys.

The key is Unicode's caseless identifier match (Unicode §3.13, D145-D147, as
`NFKC(casefold(NFKC(s)))`): case folding with compatibility normalisation, so

* "ΝΙΚΟΣ", "νικος" and "νικοσ" are the same (final sigma folds to σ);
* "STRASSE", "straße" and "strasse" are the same (ß folds to ss);
* fullwidth "ｊａｎｅ" is "jane", and "é" precomposed or as "e" + U+0301 is one letter;
* Turkish dotted "İ" folds to "i" + U+0307, so "İstanbul" is not "istanbul", and dotless
  "ı" stays itself: without the locale, Unicode's default folding keeps them apart, and
  each still finds itself in every case.
"""

import unicodedata


def casefold_key(value: str) -> str:
    """The comparison key of an identifier (userName, email); '' for ''."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value or "").casefold())
