"""An organization's OpenID Connect connection: configuring it, switching to it, the
people it signs in, and the sessions its provider ends.

The protocol itself (discovery, tokens, keys) is sso.oidc; this module decides what a
validated ID token means here and writes it, one transaction per service, each with
its audit event.
"""

import datetime as dt
import hashlib
import logging

from django.db import IntegrityError, transaction
from django.db import connection as database
from django.utils import timezone

from accounts.actors import Actor
from accounts.errors import AccountsError, PrivilegeRefused
from accounts.models import AuditAction, Organization, Source, User
from accounts.selectors import email_in_verified_domain
from accounts.services import (
    audit_record,
    organization_set_sso_required,
    user_create,
    user_record_sso_sign_in,
)
from accounts.services.privileges import check_may_configure_sso
from accounts.sessions import end_sessions
from accounts.transactions import atomic
from sso import keystore
from sso.errors import LoginRefused, OidcConfigurationError, SsoError
from sso.models import (
    ClientAuthMethod,
    OidcConnection,
    OidcSession,
    OidcSubject,
    SamlAssertionUse,
    SamlIdentityProvider,
)
from sso.oidc import discovery, fetch, keys
from sso.oidc.connection import provider_keys
from sso.oidc.discovery import ProviderMetadata
from sso.oidc.tokens import IdToken, LogoutToken
from sso.selectors import oidc_linked_user, user_for_saml_subject
from sso.services.keys import SSO_ACTOR

logger = logging.getLogger(__name__)

SAML = "saml"
OIDC = "oidc"
PROTOCOLS = (SAML, OIDC)
# Claims an admin may name to match unlinked people by address (OIDC Core §5.1).
EMAIL_CLAIMS = ("", "email")
SECRET_METHODS = (ClientAuthMethod.CLIENT_SECRET_BASIC, ClientAuthMethod.CLIENT_SECRET_POST)


# -- Configuration ----------------------------------------------------------------------


def provider_metadata(*, issuer: str, endpoints: dict | None = None) -> ProviderMetadata:
    """The provider's endpoints: from its discovery document, or as typed by hand.

    Every URL must be https at a public address (OIDC_ALLOW_LOOPBACK admits loopback
    in development); nothing is fetched for endpoints typed by hand.
    """
    issuer = (issuer or "").strip()
    fetch.check_url(issuer)
    if endpoints is None:
        return discovery.discover(issuer)
    fields = {name: (value or "").strip() for name, value in endpoints.items()}
    for required in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not fields.get(required):
            raise OidcConfigurationError(
                f"The provider's {required.replace('_', ' ')} is required."
            )
    for value in fields.values():
        if value:
            fetch.check_url(value)
    return ProviderMetadata(issuer=issuer, **fields)


def _audit_connection(connection: OidcConnection, *, actor: Actor, changes: dict) -> None:
    audit_record(
        organization=connection.organization,
        actor=actor,
        action=AuditAction.SSO_CONFIGURED,
        target_type="oidc_connection",
        target_id=connection.pk,
        target_label=connection.issuer[:255],
        changes=changes,
    )


def _clean_settings(
    *, client_id: str, client_auth_method: str, email_claim: str, creating: bool, secret: str
) -> dict:
    client_id = (client_id or "").strip()
    if not client_id or len(client_id) > 255:
        raise OidcConfigurationError("The client ID is required (at most 255 characters).")
    if client_auth_method not in ClientAuthMethod.values:
        raise OidcConfigurationError("Choose how Roster authenticates at the token endpoint.")
    if email_claim not in EMAIL_CLAIMS:
        raise OidcConfigurationError("People are matched by preferred_username or by email.")
    if client_auth_method in SECRET_METHODS and creating and not secret:
        raise OidcConfigurationError("The client secret is required.")
    return {
        "client_id": client_id,
        "client_auth_method": client_auth_method,
        "email_claim": email_claim,
    }


def _active_saml(organization: Organization) -> SamlIdentityProvider | None:
    return (
        SamlIdentityProvider.objects.select_for_update()
        .filter(organization=organization, enabled=True)
        .first()
    )


@transaction.atomic
def oidc_configure(
    *,
    organization: Organization,
    metadata: ProviderMetadata,
    client_id: str,
    actor: Actor,
    acting_user: User | None = None,
    client_secret: str = "",
    client_auth_method: str = ClientAuthMethod.CLIENT_SECRET_BASIC,
    email_claim: str = "",
    jit_provisioning: bool = False,
    allow_idp_initiated: bool = True,
    discovered: bool = True,
) -> OidcConnection:
    """Create or change the organization's OIDC connection; owners only.

    `metadata` comes from `provider_metadata` (called before this transaction: it may
    fetch). A blank `client_secret` keeps the stored one. On an organization with no
    active connection the new connection is active at once; beside an active SAML IdP it
    waits (pending) until an owner switches to it (`sign_in_connection_switch`).
    """
    check_may_configure_sso(acting_user, actor, organization)
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    connection = OidcConnection.objects.filter(organization=organization).first()
    creating = connection is None
    secret = (client_secret or "").strip()
    cleaned = _clean_settings(
        client_id=client_id,
        client_auth_method=client_auth_method,
        email_claim=email_claim,
        creating=creating,
        secret=secret,
    )
    if creating:
        connection = OidcConnection(organization=organization)
    elif cleaned["client_auth_method"] in SECRET_METHODS and not (
        secret or connection.client_secret_encrypted
    ):
        raise OidcConfigurationError("The client secret is required.")
    cleaned.update(
        issuer=metadata.issuer,
        metadata=metadata.as_dict(),
        discovered=discovered,
        jit_provisioning=bool(jit_provisioning),
        allow_idp_initiated=bool(allow_idp_initiated),
    )
    changes = {
        name: {"from": getattr(connection, name), "to": value}
        for name, value in cleaned.items()
        if creating or getattr(connection, name) != value
    }
    if secret:
        connection.client_secret_encrypted = keystore.encrypt_private_key(secret.encode())
        changes["client_secret"] = "set"  # never the value
    if cleaned["client_auth_method"] == ClientAuthMethod.PRIVATE_KEY_JWT and not (
        connection.signing_key_encrypted
    ):
        key_id, pem = keys.new_signing_key()
        connection.signing_key_id = key_id
        connection.signing_key_encrypted = keystore.encrypt_private_key(pem)
        connection.signing_key_created_at = timezone.now()
        changes["signing_key"] = key_id
    if not changes:
        return connection
    for name, value in cleaned.items():
        setattr(connection, name, value)
    if creating and _active_saml(organization) is None:
        connection.enabled = True
        changes["enabled"] = {"from": False, "to": True}
    try:
        with transaction.atomic():
            connection.save()
    except IntegrityError:
        raise SsoError("The connection was changed at the same time; try again.") from None
    _audit_connection(connection, actor=actor, changes=changes)
    # Saved settings read the provider's keys afresh at the next sign-in.
    transaction.on_commit(provider_keys(connection).forget)
    return connection


@transaction.atomic
def oidc_set_enabled(
    *, organization: Organization, enabled: bool, actor: Actor, acting_user: User | None = None
) -> OidcConnection:
    """Turn OIDC sign-in on or off while no SAML IdP is the active connection.

    Beside an active SAML IdP, OIDC replaces it only through `sign_in_connection_switch`,
    which needs the owner's test sign-in first.
    """
    check_may_configure_sso(acting_user, actor, organization)
    connection = (
        OidcConnection.objects.select_for_update().filter(organization=organization).first()
    )
    if connection is None:
        raise SsoError("Configure an OpenID Connect provider first.")
    if connection.enabled == enabled:
        return connection
    if enabled and _active_saml(organization) is not None:
        raise SsoError(
            "SAML is the active sign-in connection: test the OpenID Connect connection, then "
            "switch to it."
        )
    connection.enabled = enabled
    connection.save(update_fields=["enabled"])
    _audit_connection(
        connection, actor=actor, changes={"enabled": {"from": not enabled, "to": enabled}}
    )
    if not enabled:
        organization_set_sso_required(organization=organization, required=False, actor=actor)
    return connection


def _check_switch_proven(connection, acting_user: User | None) -> None:
    if acting_user is None:
        return  # the platform (manage.py configure_oidc --activate): an operator's act
    if (
        connection.proven_by_id != acting_user.pk
        or connection.proven_at is None
        or (connection.proven_at < connection.updated_at)
    ):
        raise PrivilegeRefused(
            "Test sign-in through the new connection yourself first: switching is allowed "
            "once your own sign-in through it, as it is configured now, has worked."
        )


@transaction.atomic
def sign_in_connection_switch(
    *, organization: Organization, to: str, actor: Actor, acting_user: User | None = None
) -> None:
    """Make SAML or OIDC the organization's one active sign-in connection; owners only.

    An owner switches only after their own test sign-in through the new connection
    worked (otherwise a broken configuration would lock everyone out); the old one
    stays configured, off. Sessions already begun are not ended.
    """
    if to not in PROTOCOLS:
        raise SsoError("Switch to saml or oidc.")
    check_may_configure_sso(acting_user, actor, organization)
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    saml = SamlIdentityProvider.objects.filter(organization=organization).first()
    oidc = OidcConnection.objects.filter(organization=organization).first()
    new, old = (oidc, saml) if to == OIDC else (saml, oidc)
    if new is None:
        raise SsoError(
            f"Configure the {'OpenID Connect' if to == OIDC else 'SAML'} connection first."
        )
    if new.enabled and (old is None or not old.enabled):
        return
    _check_switch_proven(new, acting_user)
    if old is not None and old.enabled:
        old.enabled = False
        old.save(update_fields=["enabled"])
    new.enabled = True
    new.save(update_fields=["enabled"])
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditAction.SSO_CONNECTION_SWITCHED,
        target_type="organization",
        target_id=organization.pk,
        target_label=organization.slug,
        changes={"from": OIDC if to == SAML else SAML, "to": to},
    )


@transaction.atomic
def connection_record_proof(*, connection, user: User) -> None:
    """An owner's test sign-in through a connection that is not (yet) the active one
    worked: what `sign_in_connection_switch` asks for. No audit of its own: the
    sso.login event of the sign-in records it."""
    type(connection).objects.filter(pk=connection.pk).update(
        proven_by=user, proven_at=timezone.now()
    )


# A success is written at most this often: the console shows it to the minute, and
# every sign-in writing it would cost each one an UPDATE.
SUCCESS_RECORD_INTERVAL = dt.timedelta(seconds=60)


def connection_record_outcome(*, connection: OidcConnection, failure: str = "") -> None:
    """The connection's status for the console: its last success, or its last failure
    and why. One UPDATE, outside the sign-in's transaction so a refusal keeps it."""
    now = timezone.now()
    if failure:
        OidcConnection.objects.filter(pk=connection.pk).update(
            last_failure_at=now, last_failure_reason=failure[:64]
        )
    elif (
        connection.last_success_at is None
        or now - connection.last_success_at >= SUCCESS_RECORD_INTERVAL
    ):
        OidcConnection.objects.filter(pk=connection.pk).update(last_success_at=now)


def oidc_metadata_refresh(*, connection: OidcConnection) -> ProviderMetadata:
    """The provider's endpoints as its discovery document names them now, at the start
    of every sign-in through a discovered connection: a document that later names an
    unsafe URL, or another issuer, refuses the sign-in (OidcConfigurationError) instead
    of being followed. A changed document replaces the stored endpoints; that is the
    provider's change, not an admin's, so it neither is audited nor counts as a new
    configuration (updated_at, which tests and the SSO requirement are measured
    against, stays)."""
    fresh = discovery.discover(connection.issuer)
    stored = fresh.as_dict()
    if stored != connection.metadata:
        OidcConnection.objects.filter(pk=connection.pk).update(metadata=stored)
        connection.metadata = stored
    return fresh


# -- Sign-in ----------------------------------------------------------------------------


def _claim(claims: dict, name: str) -> str:
    value = claims.get(name)
    return value.strip() if isinstance(value, str) else ""


def _matched_user(connection: OidcConnection, claims: dict, sub: str) -> tuple[str, list[User]]:
    """The identifier an unlinked person is matched by, and who it names."""
    organization = connection.organization
    if connection.email_claim:
        email = _claim(claims, connection.email_claim)
        if not email:
            raise LoginRefused("missing_claim", subject=sub, detail=connection.email_claim)
        # OIDC Core §5.7: only a verified address may identify anyone, and only at a
        # domain the organization proved it owns.
        if claims.get("email_verified") is not True:
            raise LoginRefused("email_not_verified", subject=email)
        if not email_in_verified_domain(organization, email):
            raise LoginRefused("email_not_in_verified_domain", subject=email)
        return email, user_for_saml_subject(organization, email, match_email=True)
    username = _claim(claims, "preferred_username")
    if not username:
        raise LoginRefused("missing_claim", subject=sub, detail="preferred_username")
    return username, user_for_saml_subject(organization, username, match_email=False)


def _jit_create(connection: OidcConnection, claims: dict, identifier: str) -> User:
    if not email_in_verified_domain(connection.organization, identifier):
        raise LoginRefused("email_not_in_verified_domain", subject=identifier)
    try:
        return user_create(
            organization=connection.organization,
            username=identifier,
            email=identifier if "@" in identifier else "",
            given_name=_claim(claims, "given_name")[:150],
            family_name=_claim(claims, "family_name")[:150],
            source=Source.SSO_JIT,
            actor=Actor.system("single sign-on (just-in-time)"),
        )
    except AccountsError as exc:
        raise LoginRefused("jit_refused", subject=identifier, detail=str(exc)) from None


@atomic()
def oidc_sign_in(
    *, connection: OidcConnection, id_token: IdToken, claims: dict, idp_initiated: bool
) -> User:
    """The person this validated ID token names, in the connection's organization; audited.

    A linked `sub` signs in its person whatever the other claims say. An unlinked one
    is matched by preferred_username (or the configured email claim, verified, at a
    verified domain) among the users the identity provider owns, and linked on first
    match; a person already linked to another `sub` is refused. `claims` are the ID
    token's claims with the userinfo answer's added. Groups and roles in them are
    ignored: console roles are granted only in the console.
    """
    sub = id_token.sub
    user, created, linked = oidc_linked_user(connection, sub), False, False
    if user is None:
        identifier, matches = _matched_user(connection, claims, sub)
        if len(matches) > 1:
            raise LoginRefused("ambiguous_user", subject=identifier)
        if matches and not matches[0].is_idp_managed:
            raise LoginRefused("console_only_user", subject=identifier)
        if matches:
            user = matches[0]
        elif connection.jit_provisioning and "@" in identifier:
            user, created = _jit_create(connection, claims, identifier), True
        else:
            raise LoginRefused("unknown_user", subject=identifier)
        if OidcSubject.objects.filter(connection=connection, user=user).exists():
            raise LoginRefused("linked_to_another_subject", subject=identifier)
        OidcSubject.objects.create(connection=connection, user=user, sub=sub)
        linked = True
    if not user.is_active:
        raise LoginRefused("user_deactivated", subject=user.username)
    user_record_sso_sign_in(user=user)
    audit_record(
        organization=connection.organization,
        actor=Actor.for_user(user),
        action=AuditAction.SSO_LOGIN,
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        changes={
            "protocol": OIDC,
            "idp_initiated": idp_initiated,
            "created": created,
            "linked": linked,
        },
    )
    return user


def oidc_session_record(
    *, connection: OidcConnection, user: User, sid: str, session_key: str
) -> None:
    """Remember which provider session a Roster session came from (back-channel logout)."""
    OidcSession.objects.bulk_create(
        [OidcSession(connection=connection, user=user, sid=sid[:255], session_key=session_key)],
        ignore_conflicts=True,
    )


@transaction.atomic
def oidc_sessions_end(
    *, connection: OidcConnection, sub: str = "", sid: str = "", channel: str
) -> int:
    """End every Roster session of this `sub` and/or provider `sid` in the organization
    (OpenID Connect Back-Channel Logout 1.0 §2.7, Front-Channel Logout 1.0 §2); audited."""
    sessions = OidcSession.objects.filter(connection=connection)
    if sid:
        sessions = sessions.filter(sid=sid)
    if sub:
        user = oidc_linked_user(connection, sub)
        if user is None:
            return 0
        sessions = sessions.filter(user=user)
    keys_ = list(sessions.values_list("session_key", flat=True))
    if not keys_:
        return 0
    end_sessions(keys_)
    OidcSession.objects.filter(session_key__in=keys_).delete()
    audit_record(
        organization=connection.organization,
        actor=SSO_ACTOR,
        action=AuditAction.SSO_SESSIONS_ENDED,
        target_type="organization",
        target_id=connection.organization_id,
        target_label=connection.organization.slug,
        changes={"channel": channel, "sessions": len(keys_), "sub": sub[:255], "sid": sid[:255]},
    )
    return len(keys_)


# -- Single use -------------------------------------------------------------------------

STATE_LIFETIME = dt.timedelta(seconds=600 + 60)


def _spend(organization: Organization, key: str, *, expires_at, reason: str) -> None:
    """Record a single-use value; LoginRefused(reason) if it was recorded before.

    One INSERT ... ON CONFLICT DO NOTHING: a second use anywhere, on any instance, finds
    the row and inserts nothing. No savepoint, so it costs one statement on the
    callback's path."""
    table = SamlAssertionUse._meta.db_table
    with database.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (organization_id, assertion_id, expires_at, used_at) "  # noqa: S608
            "VALUES (%s, %s, %s, %s) ON CONFLICT (organization_id, assertion_id) DO NOTHING",
            [organization.pk, key[:256], expires_at, timezone.now()],
        )
        if cursor.rowcount != 1:
            raise LoginRefused(reason)


def oidc_state_spend(*, organization: Organization, state: str) -> None:
    """An authorization response's `state` is answered once, on any instance (OIDC Core
    §3.1.2.7 and RFC 6749 §10.12): a second use is a replay of a copied URL and cookie."""
    digest = hashlib.sha256(state.encode()).hexdigest()
    _spend(
        organization,
        f"oidc-state:{digest}",
        expires_at=timezone.now() + STATE_LIFETIME,
        reason="state_reused",
    )


def oidc_logout_token_spend(*, organization: Organization, logout_token: LogoutToken) -> None:
    """A logout token's `jti` is acted on once (Back-Channel Logout 1.0 §2.6, step 7)."""
    expires_at = dt.datetime.fromtimestamp(logout_token.issued_at, tz=dt.UTC) + dt.timedelta(
        minutes=10
    )
    _spend(
        organization,
        f"oidc-logout:{hashlib.sha256(logout_token.jti.encode()).hexdigest()}",
        expires_at=max(expires_at, timezone.now() + dt.timedelta(minutes=2)),
        reason="logout_token_replayed",
    )
