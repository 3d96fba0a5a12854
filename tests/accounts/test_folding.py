# ruff: noqa: RUF001  (non-ASCII look-alikes are what these tests are about)
"""Case-insensitive userNames and emails, decided once (accounts.folding) and stored."""

import pytest

from accounts.errors import UsernameTaken
from accounts.folding import casefold_key
from accounts.models import User
from accounts.selectors import user_by_username, users_by_email
from accounts.services import user_create, user_update

SAME = [
    ("ΝΙΚΟΣ@acme.example", "νικος@acme.example"),  # final sigma
    ("νικοσ@acme.example", "Νικος@acme.example"),
    ("STRASSE@acme.example", "straße@acme.example"),  # sharp s
    ("ｊａｎｅ@acme.example", "jane@acme.example"),  # fullwidth
    ("Jose\u0301@acme.example", "JOSÉ@acme.example"),  # combining acute vs precomposed
    ("İSTANBUL@acme.example", "i̇stanbul@acme.example"),  # dotted capital I, both ways
]
DIFFERENT = [
    ("İstanbul@acme.example", "istanbul@acme.example"),  # Unicode's default folding, no locale
    ("ısmail@acme.example", "ismail@acme.example"),  # dotless i stays itself
]


@pytest.mark.parametrize(("first", "second"), SAME)
def test_usernames_that_fold_alike_are_one_username(organization, system_actor, first, second):
    user_create(organization=organization, username=first, actor=system_actor)

    with pytest.raises(UsernameTaken):
        user_create(organization=organization, username=second, actor=system_actor)
    assert user_by_username(organization, second).username == first


@pytest.mark.parametrize(("first", "second"), DIFFERENT)
def test_usernames_that_fold_apart_are_two_users(organization, system_actor, first, second):
    one = user_create(organization=organization, username=first, actor=system_actor)
    two = user_create(organization=organization, username=second, actor=system_actor)

    assert user_by_username(organization, first) == one
    assert user_by_username(organization, second) == two


@pytest.mark.parametrize("username", ["İsmail@acme.example", "ΝΙΚΟΣ@acme.example", "Straße"])
def test_every_username_finds_itself_in_every_case(organization, system_actor, username):
    user = user_create(organization=organization, username=username, actor=system_actor)

    for spelling in (username, username.upper(), username.lower(), username.casefold()):
        assert user_by_username(organization, spelling) == user, spelling


def test_the_database_constraint_holds_the_folded_key(organization, system_actor):
    from django.db import IntegrityError, transaction

    from accounts.models import User

    user_create(organization=organization, username="straße", actor=system_actor)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(organization=organization, username="STRASSE")


def test_a_rename_keeps_the_key_in_step(organization, make_user, system_actor):
    user = make_user(organization, "old@acme.example")

    user_update(user=user, username="ΝΙΚΟΣ@acme.example", actor=system_actor)

    user.refresh_from_db()
    assert user.username_key == casefold_key("νικος@acme.example")
    assert user.email_key == casefold_key("old@acme.example")
    assert user_by_username(organization, "old@acme.example") is None


def test_emails_are_matched_by_their_folded_key(organization, make_user):
    user = make_user(organization, "nikos", email="ΝΙΚΟΣ@Acme.Example")

    assert list(users_by_email(organization, "νικος@acme.example")) == [user]


def test_the_case_folding_migration_names_usernames_that_fold_alike(organization, make_user):
    # Records made before the migration: a lookup-time `lower()` let both in. The
    # migration stops with both names, before writing anything, instead of failing on
    # the unique constraint.
    import importlib

    from django.apps import apps

    migration = importlib.import_module("accounts.migrations.0009_casefold_keys")
    make_user(organization, "ΝΙΚΟΣ@acme.example")
    other = make_user(organization, "placeholder@acme.example")
    User.objects.filter(pk=other.pk).update(username="νικος@acme.example")
    keys_before = sorted(User.objects.values_list("username_key", flat=True))

    with pytest.raises(RuntimeError) as refused:
        migration.fill_keys(apps, None)

    assert "'ΝΙΚΟΣ@acme.example' and 'νικος@acme.example'" in str(refused.value)
    assert f"organization {organization.pk}" in str(refused.value)
    assert sorted(User.objects.values_list("username_key", flat=True)) == keys_before


def test_the_case_folding_migration_fills_keys_when_nothing_clashes(organization, make_user):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("accounts.migrations.0009_casefold_keys")
    user = make_user(organization, "Straße@acme.example")
    User.objects.filter(pk=user.pk).update(username_key="", email_key="")

    migration.fill_keys(apps, None)

    user.refresh_from_db()
    assert user.username_key == casefold_key("Straße@acme.example")
