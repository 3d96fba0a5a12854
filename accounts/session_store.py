"""Django's database sessions, each written once per request (SESSION_ENGINE).

Django's own store writes a new session twice: `create()` checks that a random key is
free and INSERTs an empty row for it inside a savepoint, then the end of the request
UPDATEs that row with what `login()` put in, in a transaction of its own. Here
`create()` only draws the key and the first `save()` INSERTs the whole row. A session
saved during the request (a SAML sign-in saves it inside the sign-in's transaction, so
the session commits with the sign-in or not at all) is not written again at the end of
the request unless it changed since.
"""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.db import DatabaseError, IntegrityError, router
from django.db.models import Exists, OuterRef
from django.dispatch import Signal
from django.utils.crypto import get_random_string

from accounts.models import UserSession

# Sent (sender: the store class) by `clearsessions` once expired sessions are gone: an
# app that keeps records of its own per session forgets those whose session is gone
# (sso does, for the provider session each OIDC sign-in came from).
sessions_cleared = Signal()


class SessionStore(db.SessionStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._unwritten = False  # a key from create() that has no row yet
        self._written = False  # saved during this request and unchanged since

    def create(self):
        # 32 of 36 characters, about 165 bits: no clash is expected, and should one
        # happen the INSERT's primary key refuses it (CreateError) rather than two
        # browsers sharing a session.
        self._session_key = get_random_string(32, VALID_KEY_CHARS)
        self._unwritten = True
        self._written = False
        self.modified = True

    def save(self, must_create=False):
        if self._written and not self.modified:
            return
        if self.session_key is None:
            self.create()
        must_create = must_create or self._unwritten
        obj = self.create_model_instance(self._get_session(no_load=must_create))
        try:
            # One statement: atomic on its own, and inside a caller's transaction it
            # joins that transaction (no savepoint: nobody rolls back to one).
            obj.save(
                force_insert=must_create,
                force_update=not must_create,
                using=router.db_for_write(self.model, instance=obj),
            )
        except IntegrityError:
            if must_create:
                raise CreateError from None
            raise
        except DatabaseError:
            if not must_create:
                raise UpdateError from None
            raise
        self._unwritten = False
        self._written = True
        self.modified = False

    @classmethod
    def clear_expired(cls):
        """`manage.py clearsessions`: expired sessions, then the records of every session
        that is gone, so a user's records stay the sessions that exist."""
        super().clear_expired()
        UserSession.objects.filter(cls.gone()).delete()
        sessions_cleared.send(sender=cls)

    @classmethod
    def gone(cls) -> Exists:
        """Filter for records whose `session_key` names no session any more."""
        return ~Exists(cls.get_model_class().objects.filter(session_key=OuterRef("session_key")))

    @classmethod
    def delete_keys(cls, session_keys) -> None:
        """End these sessions in one statement (a user's, on deactivation or deletion)."""
        cls.get_model_class().objects.filter(session_key__in=list(session_keys)).delete()

    def delete(self, session_key=None):
        if session_key is None or session_key == self.session_key:
            self._unwritten = self._written = False
        super().delete(session_key)
