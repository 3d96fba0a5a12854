"""Services' transactions: one per request, not a savepoint for every service it calls.

A service opens its transaction with `atomic()`. On its own that is Django's
`transaction.atomic()`: a transaction, or a savepoint inside the caller's, so a caller
may catch a refusal and carry on. Inside `request_transaction()` (a SCIM write's and
a SAML sign-in's, each rolled back whole when it fails) services join the request's
transaction without a savepoint: nobody would roll back to one, and each costs a
SAVEPOINT and a RELEASE. A failure there marks the request's transaction for
rollback, which is what its caller does anyway.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

_in_request_transaction: ContextVar[bool] = ContextVar("in_request_transaction", default=False)
# Instances the request's transaction read FOR UPDATE; a service does not read them again.
_locked_in_request: ContextVar[tuple] = ContextVar("locked_in_request", default=())


@contextmanager
def request_transaction() -> Iterator[None]:
    """The one transaction of a request that is rolled back whole when it fails."""
    with transaction.atomic():
        reset = _in_request_transaction.set(True)
        reset_locked = _locked_in_request.set(())
        try:
            yield
        finally:
            _locked_in_request.reset(reset_locked)
            _in_request_transaction.reset(reset)


def in_request_transaction() -> bool:
    return _in_request_transaction.get() and transaction.get_connection().in_atomic_block


@contextmanager
def atomic() -> Iterator[None]:
    """A service's transaction: `@atomic()` on the service or `with atomic():` in it."""
    with transaction.atomic(savepoint=not in_request_transaction()):
        yield


def remember_locked(obj) -> None:
    """Note that `obj` was read FOR UPDATE in the request's transaction (held to its end)."""
    if in_request_transaction():
        _locked_in_request.set((*_locked_in_request.get(), obj))


def holds_lock(obj) -> bool:
    """Whether this very instance was read FOR UPDATE in the request's transaction."""
    return in_request_transaction() and any(held is obj for held in _locked_in_request.get())
