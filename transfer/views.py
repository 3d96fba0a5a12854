"""The person's File transfer page: how to connect, their folders, SSH keys, app
passwords and recent sign-ins (docs/transfer-users.md).

Every change goes through transfer.services, as the person. Adding a credential asks for
a sign-in within the last ten minutes (transfer.recent_sign_in); revoking does not. A new
app password is shown once: the create POST hands it, encrypted, to the next request
through the session (accounts.secret_handoff), and the page that shows it takes it out,
so a reload or Back finds nothing.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.actors import Actor
from accounts.errors import InvalidValue
from accounts.secret_handoff import SecretHandoff
from transfer import decisions, selectors, services, sign_in_log
from transfer.forms import AppPasswordCreateForm, SshKeyAddForm
from transfer.models import APP_PASSWORD, CredentialSource, Protocol
from transfer.recent_sign_in import signed_in_recently
from transfer.ssh_keys import KeyRefused

NEW_APP_PASSWORD = SecretHandoff(
    session_key="transfer.new_app_password", purpose="roster.transfer.new-app-password.v1"
)


def _with_next(url: str) -> str:
    """`url` with this page as where to come back to."""
    return f"{url}?{urlencode({'next': reverse('transfer:page')})}"


def person_required(view):
    """A signed-in person of an organization; others go to the sign-in page (platform
    operators, who belong to none, to the admin, as on the landing page). Every answer
    is never cached: Cache-Control includes no-store."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect(_with_next(reverse("sso:signin")))
        if request.user.organization_id is None:
            return redirect("admin:index")
        return view(request, *args, **kwargs)

    return never_cache(wrapper)


def transfer_allowed(view):
    """Credential actions, for a person file transfer is on for; others see why not."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        access = selectors.access_of(request.user)
        if not access.allowed:
            return _page(request, access=access, status=403)
        return view(request, *args, **kwargs)

    return person_required(wrapper)


def _own_or_404(credential):
    if credential is None:
        raise Http404("No such credential of yours.")
    return credential


def sftp_command(endpoint, login: str) -> str:
    """`sftp -P <port> '<login>'@<host>`: the login quoted for a POSIX shell, since it
    may hold `+` and `@` (and, from some directories, a quote)."""
    quoted = "'" + login.replace("'", "'\\''") + "'"
    return f"sftp -P {endpoint.port} {quoted}@{endpoint.host}"


def connection_of(user) -> dict:
    """What a file-transfer client needs: the login name, each server, an sftp line."""
    login = selectors.login_name_of(user)
    endpoints = selectors.endpoints()
    sftp = next((endpoint for endpoint in endpoints if endpoint.protocol == Protocol.SFTP), None)
    return {
        "login": login,
        "works_with_system_accounts": decisions.works_with_system_accounts(login),
        "endpoints": [
            {
                "id": f"endpoint-{position}",
                "name": Protocol(endpoint.protocol).label,
                "host": endpoint.host,
                "port": endpoint.port,
            }
            for position, endpoint in enumerate(endpoints, start=1)
        ],
        "sftp_command": sftp_command(sftp, login) if sftp else "",
    }


def _page(request, *, access=None, key_form=None, password_form=None, status=200):
    user = request.user
    access = access or selectors.access_of(user)
    context = {"access": access}
    if access.allowed:
        sign_in_log.drain_before_reading()  # the credentials' last uses, the sign-ins
        fresh = signed_in_recently(request.session)
        context.update(
            connection_of(user),
            folders=selectors.folders_of(user),
            ssh_keys=selectors.ssh_keys_of(user),
            app_passwords=selectors.app_passwords_of(user),
            app_password_head=APP_PASSWORD.head,
            sign_ins=selectors.recent_sign_ins(user),
            signed_in_recently=fresh,
            sso_sign_in_url="" if fresh else _sso_sign_in_url(user.organization),
            key_form=key_form or SshKeyAddForm(),
            password_form=password_form or AppPasswordCreateForm(),
        )
    return render(request, "transfer/page.html", context, status=status)


def _sso_sign_in_url(organization) -> str:
    """The organization's SSO sign-in, coming back to this page; '' when it has none."""
    if not selectors.sso_enabled(organization):
        return ""
    return _with_next(reverse("sso:login", args=[organization.slug]))


def _password_sign_in(request):
    """The console's password sign-in, coming back to this page, after signing out: the
    stale session cannot be used meanwhile, and the sign-in page asks for the password
    instead of seeing a signed-in visitor."""
    auth_logout(request)
    return redirect(_with_next(reverse("console:login")))


def _stale_sign_in(request, what: str):
    """An add whose sign-in is older than FRESH_SECONDS: a fresh sign-in first.

    With SSO, back to this page, whose link goes on to the identity provider: browsers
    apply the page's CSP `form-action 'self'` to every hop of a form's redirects, so a
    POST cannot be redirected to the IdP. Without SSO, the password sign-in at once.
    """
    if selectors.sso_enabled(request.user.organization):
        messages.info(request, f"Sign in again to add {what}: it needs a recent sign-in.")
        return redirect("transfer:page")
    return _password_sign_in(request)


@person_required
def page(request):
    return _page(request)


@require_POST
@person_required
def sign_in_again(request):
    """The page's button when the organization has no SSO (with SSO it shows a link).

    Should SSO have been turned on since the page loaded, back to the page and its link:
    a POST cannot be redirected to the identity provider (`_stale_sign_in`).
    """
    if selectors.sso_enabled(request.user.organization):
        return redirect("transfer:page")
    return _password_sign_in(request)


@require_POST
@transfer_allowed
def ssh_key_add(request):
    if not signed_in_recently(request.session):
        return _stale_sign_in(request, "an SSH key")
    form = SshKeyAddForm(request.POST)
    if form.is_valid():
        try:
            key = services.ssh_key_add(
                user=request.user,
                public_key=form.cleaned_data["public_key"],
                label=form.cleaned_data["label"],
                source=CredentialSource.PERSONAL,
                actor=Actor.for_user(request.user),
            )
        except KeyRefused as error:
            form.add_error("public_key", str(error))
        except (services.CredentialRefused, InvalidValue) as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"SSH key “{key.label or key.fingerprint}” added.")
            return redirect("transfer:page")
    return _page(request, key_form=form, status=400)


@require_POST
@transfer_allowed
def ssh_key_remove(request, key_id):
    key = _own_or_404(selectors.own_ssh_key(request.user, key_id))
    try:
        services.ssh_key_revoke(key=key, actor=Actor.for_user(request.user), by_owner=True)
    except services.CredentialRefused as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"SSH key “{key.label or key.fingerprint}” removed.")
    return redirect("transfer:page")


@require_POST
@transfer_allowed
def app_password_create(request):
    if not signed_in_recently(request.session):
        return _stale_sign_in(request, "an app password")
    form = AppPasswordCreateForm(request.POST)
    if form.is_valid():
        try:
            password, secret = services.app_password_create(
                user=request.user,
                label=form.cleaned_data["label"],
                expires_at=form.cleaned_data["expires_at"],
                source=CredentialSource.PERSONAL,
                actor=Actor.for_user(request.user),
            )
        except (services.CredentialRefused, InvalidValue) as error:
            form.add_error(None, str(error))
        else:
            NEW_APP_PASSWORD.hand_off(request.session, handoff_id=str(password.pk), secret=secret)
            return redirect("transfer:app_password_created", password_id=password.pk)
    return _page(request, password_form=form, status=400)


@transfer_allowed
def app_password_created(request, password_id):
    """The new password, once; never cached (person_required): Back must not replay it."""
    password = _own_or_404(selectors.own_app_password(request.user, password_id))
    secret = NEW_APP_PASSWORD.take(request.session, handoff_id=str(password.pk))
    if secret is None:
        messages.info(
            request,
            f"The app password “{password.label}” was shown once and cannot be shown again. "
            "If you did not copy it, revoke it and create a new one.",
        )
        return redirect("transfer:page")
    context = {"password": password, "secret": secret, **connection_of(request.user)}
    return render(request, "transfer/app_password_created.html", context)


@require_POST
@transfer_allowed
def app_password_revoke(request, password_id):
    password = _own_or_404(selectors.own_app_password(request.user, password_id))
    services.app_password_revoke(password=password, actor=Actor.for_user(request.user))
    messages.success(request, f"App password “{password.label}” revoked.")
    return redirect("transfer:page")
