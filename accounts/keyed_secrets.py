"""Keyed secrets: random secrets shown once, found by a non-secret prefix, checked by a
keyed digest.

Provisioning tokens, API keys, transfer keys and app passwords are the same thing
(NetBox's Token with its peppers): `<head><prefix>.<random>`, where the prefix finds the
row and the whole secret is checked with `hmac.compare_digest` against an HMAC-SHA256
digest made under one of TOKEN_HASH_KEYS, stored with that key's id so the hash keys can
rotate (accounts.derived_keys). They are high-entropy secrets, so a keyed digest is
right and keeps every check fast; a slow password hash would protect nothing more.

Each kind names its head and digest purpose (`SecretKind`); a kind's secrets are never
found among another kind's, and its model adds only what is its own (scope, owner).
"""

import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts import raw_rows as rows
from accounts.derived_keys import token_digest, token_digest_matches

PREFIX_LENGTH = 8
# Letters and digits only: a prefix is also typed as a command's argument
# (revoke_credential), where one starting with "-" would read as an option.
PREFIX_ALPHABET = string.ascii_letters + string.digits
SECRET_BYTES = 32  # 256 random bits after the prefix
SEPARATOR = "."
# A credential records its use at most this often (a conditional UPDATE, no lock).
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Every head is lowercase letters and an underscore ("rk_"), so what stands before the
# separator in a headed secret has this shape, which no kind without a head issues.
_HEAD = re.compile(r"[a-z]+_")
HEADED_PREFIX = re.compile(r"[a-z]+_[A-Za-z0-9_-]{8}")


@dataclass(frozen=True)
class SecretKind:
    """One kind of keyed secret: `head` starts every secret, `purpose` keys the digest."""

    head: str
    purpose: str

    def __post_init__(self):
        if self.head and not _HEAD.fullmatch(self.head):
            raise ValueError(f"A head is lowercase letters and an underscore, not {self.head!r}.")

    @property
    def _pattern(self) -> re.Pattern:
        return re.compile(rf"^{re.escape(self.head)}([A-Za-z0-9_-]{{8}})\.[A-Za-z0-9_-]{{20,}}$")

    def new_secret(self) -> tuple[str, str]:
        """A fresh (prefix, secret) pair."""
        prefix = "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
        return prefix, f"{self.head}{prefix}{SEPARATOR}{secrets.token_urlsafe(SECRET_BYTES)}"

    def prefix_of(self, secret) -> str | None:
        """The prefix of a well-formed secret of this kind; None for anything else."""
        if not isinstance(secret, str) or len(secret) > 200:
            return None
        match = self._pattern.match(secret)
        return match.group(1) if match else None

    def digest_of(self, secret: str) -> tuple[str, str]:
        """(key id, digest) of the secret under the current hash key."""
        return token_digest(self.purpose, secret)

    def matches(self, secret: str, *, digest: str, key_id: str) -> bool:
        """Whether `digest`, stored with `key_id`, is this secret's (constant time)."""
        return token_digest_matches(self.purpose, secret, key_id=key_id, digest=digest)


class SecretStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class KeyedSecretQuerySet(models.QuerySet):
    def live(self, now: datetime | None = None) -> "KeyedSecretQuerySet":
        """The rows whose status is active at `now`: `is_live` as a filter."""
        now = now or timezone.now()
        return self.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now), revoked_at__isnull=True
        )


class KeyedSecret(models.Model):
    """The fields every keyed secret has; the secret itself is never stored."""

    label = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    key_id = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = KeyedSecretQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.prefix} ({self.label})" if self.label else self.prefix

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return SecretStatus.REVOKED
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return SecretStatus.EXPIRED
        return SecretStatus.ACTIVE

    @property
    def is_live(self) -> bool:
        return self.status == SecretStatus.ACTIVE

    def set_secret(self, kind: SecretKind) -> str:
        """Give this (unsaved) row a fresh secret of `kind`, with a prefix no row of its
        model has; returns it, to show once."""
        self.prefix, secret = kind.new_secret()
        while type(self)._default_manager.filter(prefix=self.prefix).exists():
            # 48 random bits make a clash rare; the unique prefix finds the row.
            self.prefix, secret = kind.new_secret()
        self.key_id, self.digest = kind.digest_of(secret)
        return secret

    def holds(self, kind: SecretKind, secret: str) -> bool:
        return kind.matches(secret, digest=self.digest, key_id=self.key_id)


def row_for_secret(
    kind: SecretKind, secret, *, by_prefix: Callable[[str], KeyedSecret | None]
) -> KeyedSecret | None:
    """The row whose secret this is, live or not; None for anything else.

    One lookup by the unique prefix (`by_prefix`, which loads what its caller needs),
    then a constant-time digest comparison.
    """
    prefix = kind.prefix_of(secret)
    if prefix is None:
        return None
    row = by_prefix(prefix)
    if row is None or not row.holds(kind, secret):
        return None
    return row


def mark_used(model, pk, *, last_used_at: datetime | None, now: datetime | None = None) -> None:
    """Record that the credential `model`/`pk`, last used at `last_used_at`, was used:
    at most once a minute, a conditional UPDATE, no lock, no audit event. For callers
    that hold the credential's id and last use but not the row (a login decision)."""
    now = now or timezone.now()
    if not is_stale(last_used_at, now):
        return
    with rows.connection.cursor() as cursor:
        cursor.execute(*mark_used_statement(model, pk, now=now))


def is_stale(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether a last use of `last_used_at` is to be recorded again at `now`."""
    return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION


def mark_used_statement(model, pk, *, now: datetime) -> tuple[str, list]:
    """The UPDATE that records a use of the credential `model`/`pk` at `now`, written
    out, for `mark_used` and for a caller that sends it in one statement with its own
    write. The condition keeps concurrent requests from rewriting the same minute."""
    last_used = rows.column(model, "last_used_at")
    sql = (
        f"UPDATE {rows.table(model)} SET {last_used} = %s "  # noqa: S608
        f"WHERE {rows.column(model, model._meta.pk.name)} = %s "
        f"AND ({last_used} IS NULL OR {last_used} < %s)"
    )
    field = model._meta.get_field("last_used_at")
    return sql, [
        field.get_db_prep_value(now, rows.connection),
        model._meta.pk.get_db_prep_value(pk, rows.connection),
        field.get_db_prep_value(now - LAST_USED_RESOLUTION, rows.connection),
    ]


def credential_mark_used(credential, *, now: datetime | None = None) -> None:
    """mark_used for a credential row in hand, which then shows the new last use."""
    now = now or timezone.now()
    mark_used(type(credential), credential.pk, last_used_at=credential.last_used_at, now=now)
    if is_stale(credential.last_used_at, now):
        credential.last_used_at = now
