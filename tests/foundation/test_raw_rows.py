"""Rows written out from the models (accounts.raw_rows) load and write exactly as the ORM
does: the same instances, deferred columns that load on first use, and the same rows."""

import pytest
from django.db import connection
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import raw_rows as rows
from accounts.models import Organization, User
from transfer.models import TransferSignIn

pytestmark = pytest.mark.django_db


def _read(model, pk, only=None) -> tuple:
    sql = (
        f"SELECT {rows.columns((model, only), 't')} FROM {rows.table(model)} t "
        f"WHERE t.{rows.quote(model._meta.pk.column)} = %s"
    )
    return rows.fetch(sql, [model._meta.pk.get_db_prep_value(pk, connection)])[0]


def _values(instance) -> dict:
    fields = type(instance)._meta.fields
    return {field.attname: getattr(instance, field.attname) for field in fields}


def test_a_row_becomes_the_instance_the_orm_loads(organization, make_user):
    bob = make_user(organization, "bob@acme.example", given_name="Bob", profile={"a": [1]})

    (loaded,) = rows.instances(_read(User, bob.pk), [User])

    expected = User.objects.get(pk=bob.pk)
    assert type(loaded) is User
    assert _values(loaded) == _values(expected)
    assert loaded._state.adding is False
    assert loaded._state.db == "default"
    assert loaded.get_deferred_fields() == set()
    # A saved instance, as the ORM's: it saves as an UPDATE of its row.
    loaded.title = "Engineer"
    loaded.save(update_fields=["title"])
    assert User.objects.get(pk=bob.pk).title == "Engineer"


def test_a_model_with_a_post_init_receiver_is_built_by_from_db(organization, make_user):
    bob = make_user(organization, "bob@acme.example")
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.username)

    post_init.connect(receiver, sender=User)
    try:
        (loaded,) = rows.instances(_read(User, bob.pk), [User])
    finally:
        post_init.disconnect(receiver, sender=User)

    assert seen == ["bob@acme.example"]
    assert _values(loaded) == _values(User.objects.get(pk=bob.pk))


def test_only_some_columns_defers_the_rest_as_queryset_only_does(organization, make_user):
    bob = make_user(organization, "bob@acme.example", title="Engineer")
    only = ("username", "is_active")

    (loaded,) = rows.instances(_read(User, bob.pk, only), [(User, only)])

    assert rows.width((User, only)) == 3  # the two and the primary key
    assert loaded.pk == bob.pk
    assert loaded.username == "bob@acme.example"
    assert loaded.get_deferred_fields() == User.objects.only(*only).get().get_deferred_fields()
    with CaptureQueriesContext(connection) as queries:
        assert loaded.title == "Engineer"
    assert len(queries) == 1


def test_only_an_unknown_column_is_an_error():
    with pytest.raises(ValueError, match="no columns"):
        rows.columns((User, ("username", "nickname")), "u")


def test_a_model_left_out_by_a_left_join_is_none(organization):
    row = (*_read(Organization, organization.pk), *([None] * rows.width(User)))

    loaded_organization, nobody = rows.instances(row, [Organization, User])

    assert nobody is None
    assert loaded_organization == organization


def test_insert_row_writes_what_save_writes(organization, make_user):
    bob = make_user(organization, "bob@acme.example")
    at = timezone.now()
    fields = {
        "organization_id": organization.pk,
        "user_id": bob.pk,
        "login": "bob@acme.example",
        "protocol": "sftp",
        "ip": "2001:db8::1",
        "allowed": True,
        "reason": "",
        "credential_kind": "ssh_key",
        "credential_id": "key_1",
        "at": at,
    }
    saved = TransferSignIn.objects.create(
        **{name: value for name, value in fields.items() if name != "user_id"}, user=bob
    )

    with connection.cursor() as cursor:
        cursor.execute(*rows.insert_row(TransferSignIn, fields))

    written = TransferSignIn.objects.exclude(pk=saved.pk).get()
    assert {k: v for k, v in _values(written).items() if k != "id"} == {
        k: v for k, v in _values(saved).items() if k != "id"
    }


@pytest.mark.parametrize(
    "change",
    [lambda fields: fields.pop("login"), lambda fields: fields.update(nickname="bob")],
    ids=["a field missing", "an unknown field"],
)
def test_insert_row_wants_exactly_the_models_fields(change):
    fields = {
        field.attname: None
        for field in TransferSignIn._meta.concrete_fields
        if not field.primary_key
    }
    change(fields)

    with pytest.raises(ValueError, match="give exactly its fields"):
        rows.insert_row(TransferSignIn, fields)
