"""Invariants the database itself enforces, proven by writing around the services."""

import pytest
from django.db import IntegrityError, transaction

from accounts.models import Group, Membership, Role, User


def _insert_user(organization, username, **fields):
    with transaction.atomic():
        return User.objects.create(organization=organization, username=username, **fields)


def test_username_is_unique_per_organization_case_insensitively_in_the_database(organization):
    _insert_user(organization, "Ada@Example.com")
    with pytest.raises(IntegrityError):
        _insert_user(organization, "ada@example.COM")


def test_same_username_may_exist_in_two_organizations(organization, other_organization):
    _insert_user(organization, "ada@example.com")
    _insert_user(other_organization, "ADA@example.com")
    assert User.objects.filter(username__iexact="ada@example.com").count() == 2


def test_group_display_name_is_unique_per_organization_case_insensitively(
    organization, other_organization
):
    Group.objects.create(organization=organization, display_name="Engineering")
    with pytest.raises(IntegrityError), transaction.atomic():
        Group.objects.create(organization=organization, display_name="ENGINEERING")
    Group.objects.create(organization=other_organization, display_name="engineering")
    assert Group.objects.filter(display_name__iexact="engineering").count() == 2


def test_operator_usernames_are_unique_case_insensitively(db):
    User.objects.create(organization=None, username="ops", is_staff=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(organization=None, username="OPS", is_staff=True)


def test_user_without_organization_must_be_an_operator(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(organization=None, username="stray", is_staff=False)


def test_role_must_be_one_of_the_known_roles(organization):
    with pytest.raises(IntegrityError):
        _insert_user(organization, "someone", role="superhero")
    assert _insert_user(organization, "someone", role=Role.ADMIN).role == Role.ADMIN


def test_a_user_is_a_member_of_a_group_at_most_once(organization, make_user, make_group):
    user = make_user(organization)
    group = make_group(organization, members=[user])
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(group=group, user=user)


def test_operator_create_refuses_a_taken_operator_username_in_any_case(db):
    from accounts.errors import UsernameTaken
    from accounts.services import operator_create

    operator_create(username="ops", password="ops-password-123")
    with pytest.raises(UsernameTaken):
        operator_create(username="OPS", password="ops-password-123")
    assert User.objects.filter(organization=None).count() == 1


def test_an_operator_may_share_a_username_with_an_organization_user(organization):
    from accounts.services import operator_create

    _insert_user(organization, "ops")
    operator = operator_create(username="ops", password="ops-password-123")
    assert operator.is_superuser and operator.organization is None
