"""The folded text that substring filters on emails search, and the index keys over it."""

import pytest
from django.db import connection

from accounts import email_search
from accounts.email_search import SEPARATOR, index_keys, needle, search_text

pytestmark = pytest.mark.django_db


def test_every_value_is_kept_folded_between_separators():
    emails = [
        {"value": "Ann@Work.example", "type": "work", "primary": True},
        {"value": "ANN.STRAßE@home.example"},
        {"value": ""},
        {"type": "other"},
        "not an entry",
    ]
    assert search_text(emails) == (
        f"{SEPARATOR}ann@work.example{SEPARATOR}{SEPARATOR}ann.strasse@home.example{SEPARATOR}"
    )
    assert search_text(None) == ""


def test_no_folded_term_contains_the_separator():
    assert SEPARATOR not in needle("co", SEPARATOR + "Ω")


def test_the_keys_cover_the_term_and_come_from_its_substrings():
    assert index_keys("abcdefghijklmn") == ["abcdef", "ghijkl", "ijklmn"]
    assert index_keys("abcde") == ["abc", "cde"]
    assert index_keys("ab") == []


def test_a_user_keeps_the_search_text_in_step_with_its_emails(organization, make_user):
    user = make_user(organization, "ann@work.example")
    assert user.email_search == search_text(user.profile["emails"])
    user.profile = {"emails": [{"value": "Ann@New.example"}]}
    user.save(update_fields=["profile"])
    user.refresh_from_db()
    assert user.email_search == f"{SEPARATOR}ann@new.example{SEPARATOR}"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL function")
def test_the_database_function_returns_every_substring_of_the_key_lengths():
    text = f"{SEPARATOR}ann.strasse@home.example{SEPARATOR}"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {email_search.KEYS_FUNCTION}(%s)", [text])
        keys = set(cursor.fetchone()[0])
    expected = {
        text[start : start + size]
        for size in email_search.KEY_LENGTHS
        for start in range(len(text) - size + 1)
    }
    assert keys == expected
    assert set(index_keys(needle("sw", "ANN.STR"))) <= keys
