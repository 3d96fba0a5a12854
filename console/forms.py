from django import forms
from django.contrib.auth import authenticate

from accounts.models import CustomAttributeType
from accounts.selectors import groups_of, users_of
from sso.models import ClientAuthMethod
from transfer.forms import SshKeyAddForm
from transfer.models import Access, Protocol, TransferMode


class ConsoleLoginForm(forms.Form):
    email = forms.EmailField(
        label="Work email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    error_messages = {
        "invalid_login": (
            "That email and password do not match an account. Check both and try again."
        ),
    }

    def __init__(self, request, *args, **kwargs):
        self.request = request
        self.user = None
        super().__init__(*args, **kwargs)

    def clean(self):
        email = self.cleaned_data.get("email")
        password = self.cleaned_data.get("password")
        if email and password:
            self.user = authenticate(self.request, email=email, password=password)
            if self.user is None:
                raise forms.ValidationError(
                    self.error_messages["invalid_login"], code="invalid_login"
                )
        return self.cleaned_data


def valid_filters(form: forms.Form) -> dict:
    """The filters that are valid; an invalid one is shown as an error and ignored."""
    if not form.is_bound:
        return {}
    form.is_valid()
    return form.cleaned_data


class UserFilterForm(forms.Form):
    """The users list's search box and filters; every field is optional."""

    q = forms.CharField(label="Search", required=False, max_length=200)
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("", "All users"), ("active", "Active"), ("deactivated", "Deactivated")],
    )
    group = forms.ModelChoiceField(
        label="Group", required=False, queryset=None, empty_label="Any group"
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        from accounts.selectors import groups_of

        self.fields["group"].queryset = groups_of(organization).order_by("display_name")
        self.fields["q"].widget.attrs.update(
            {"type": "search", "placeholder": "Username, email or name"}
        )


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Console role", choices=())

    def __init__(self, *args, **kwargs):
        from accounts.models import Role

        super().__init__(*args, **kwargs)
        self.fields["role"].choices = Role.choices


class ActivityFilterForm(forms.Form):
    """The activity log's filters; the same form drives the page and its CSV export."""

    action = forms.ChoiceField(label="Action", required=False, choices=())
    actor = forms.ChoiceField(label="Actor", required=False, choices=())
    target = forms.CharField(
        label="Target",
        required=False,
        max_length=200,
        help_text="A name, an id, or type:id such as user:… (the links on this page fill it).",
    )
    since = forms.DateField(
        label="From (UTC)", required=False, widget=forms.DateInput({"type": "date"})
    )
    until = forms.DateField(
        label="To (UTC)", required=False, widget=forms.DateInput({"type": "date"})
    )
    request = forms.CharField(label="Request ID", required=False, max_length=64)

    def __init__(self, *args, actor_choices, **kwargs):
        from accounts.models import AuditAction

        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "Any action"), *AuditAction.choices]
        self.fields["actor"].choices = [("", "Anyone"), *actor_choices]

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned

    def filters(self) -> dict:
        """Keyword arguments for console.selectors.activity."""
        data = valid_filters(self)
        actor_type, _, actor_id = (data.get("actor") or "").partition(":")
        return {
            "action": data.get("action") or "",
            "actor_type": actor_type,
            "actor_id": actor_id,
            "target": data.get("target") or "",
            "since": data.get("since"),
            "until": data.get("until"),
            "request_id": (data.get("request") or "").strip(),
        }


EXPIRY_CHOICES = [
    ("", "Never"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("180", "In 180 days"),
    ("365", "In 1 year"),
    ("date", "On a date…"),
]


class TokenCreateForm(forms.Form):
    label = forms.CharField(
        label="Label",
        max_length=100,
        help_text="Where this token is used, e.g. “Okta production”. Shown in the activity log.",
    )
    expires = forms.ChoiceField(label="Expires", required=False, choices=EXPIRY_CHOICES, initial="")
    expires_on = forms.DateField(
        label="Expiry date (UTC)",
        required=False,
        widget=forms.DateInput({"type": "date"}),
        help_text="With “On a date…”: the token stops working at the start of this day, UTC.",
    )

    def clean(self):
        from datetime import datetime, time, timedelta

        from django.utils import timezone

        cleaned = super().clean()
        choice = cleaned.get("expires") or ""
        if choice == "date":
            day = cleaned.get("expires_on")
            if day is None:
                self.add_error("expires_on", "Pick the date the token should stop working.")
                return cleaned
            expires_at = timezone.make_aware(datetime.combine(day, time.min))
            if expires_at <= timezone.now():
                self.add_error("expires_on", "Pick a date in the future.")
                return cleaned
            cleaned["expires_at"] = expires_at
        elif choice:
            cleaned["expires_at"] = timezone.now() + timedelta(days=int(choice))
        else:
            cleaned["expires_at"] = None
        return cleaned


class IdpOptionsForm(forms.Form):
    """What SAML metadata does not carry: which attribute names the person, and policy."""

    email_attribute = forms.CharField(
        label="Email attribute",
        required=False,
        max_length=255,
        help_text="The SAML attribute carrying the person's email or username, e.g. “email”. "
        "Leave empty to use the NameID.",
    )
    allow_idp_initiated = forms.BooleanField(
        label="Allow IdP-initiated sign-in",
        required=False,
        help_text="Lets people start from the identity provider's app tile.",
    )
    jit_provisioning = forms.BooleanField(
        label="Create users on first sign-in (just-in-time)",
        required=False,
        help_text="Only for addresses in your verified domains. Off: only people provisioned "
        "over SCIM can sign in.",
    )

    def options(self) -> dict:
        return {name: self.cleaned_data[name] for name in IdpOptionsForm.base_fields}


class IdpMetadataForm(forms.Form):
    metadata_xml = forms.CharField(
        label="IdP metadata XML",
        max_length=1024 * 1024,
        strip=True,
        widget=forms.Textarea({"rows": 8, "spellcheck": "false"}),
        help_text="Okta: Sign On tab > Metadata URL, open it and copy all. Entra ID: "
        "Single sign-on > SAML Certificates > Federation Metadata XML.",
    )


class IdpManualForm(forms.Form):
    entity_id = forms.CharField(label="IdP entity ID (issuer)", max_length=1024)
    sso_url = forms.URLField(
        label="IdP single sign-on URL",
        max_length=1024,
        assume_scheme="https",
        help_text="Where sign-in requests are sent (HTTP-Redirect binding).",
    )
    certificate = forms.CharField(
        label="IdP signing certificate (PEM)",
        widget=forms.Textarea({"rows": 6, "spellcheck": "false"}),
        help_text="-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----. "
        "Paste two to roll over to a new certificate.",
    )

    def idp_fields(self) -> dict:
        return {
            "entity_id": self.cleaned_data["entity_id"],
            "sso_url": self.cleaned_data["sso_url"],
            "certificates": self.cleaned_data["certificate"],
        }


SCIM_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
SCIM_RESOURCES = ["Users", "Groups", "Schemas", "ResourceTypes", "ServiceProviderConfig"]


class ScimRequestFilterForm(forms.Form):
    """The SCIM request log's filters; every field is optional."""

    token = forms.TypedChoiceField(label="Token", required=False, coerce=int, empty_value=None)
    method = forms.ChoiceField(
        label="Method",
        required=False,
        choices=[("", "Any method")] + [(m, m) for m in SCIM_METHODS],
    )
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[
            ("", "Any status"),
            ("failed", "Failed (4xx and 5xx)"),
            ("2xx", "2xx success"),
            ("4xx", "4xx refused"),
            ("5xx", "5xx server error"),
        ],
    )
    resource = forms.ChoiceField(
        label="Resource",
        required=False,
        choices=[("", "Any resource")] + [(r, r) for r in SCIM_RESOURCES],
    )
    since = forms.DateTimeField(
        label="From (UTC)",
        required=False,
        widget=forms.DateTimeInput({"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    until = forms.DateTimeField(
        label="To (UTC)",
        required=False,
        widget=forms.DateTimeInput({"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    request = forms.CharField(label="Request ID", required=False, max_length=64)

    def __init__(self, *args, token_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["token"].choices = [("", "Any token"), *token_choices]

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end is before the start.")
        return cleaned

    def filters(self) -> dict:
        """Keyword arguments for provisioning.selectors.scim_requests."""
        data = valid_filters(self)
        return {
            "token_id": data.get("token"),
            "method": data.get("method") or "",
            "status_class": data.get("status") or "",
            "resource": data.get("resource") or "",
            "request_id": (data.get("request") or "").strip(),
            "since": data.get("since"),
            "until": data.get("until"),
        }


class ApiKeyCreateForm(forms.Form):
    label = forms.CharField(
        label="Label",
        max_length=100,
        help_text="The service that will use this key, e.g. “File service”.",
    )


def _event_type_choices():
    from accounts.events.models import EventType

    return [(value, value) for value in EventType.values]


class WebhookEventTypesField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Events")
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "None ticked: every event type.")
        super().__init__(choices=_event_type_choices, **kwargs)


class WebhookEndpointCreateForm(forms.Form):
    url = forms.URLField(
        label="Endpoint URL",
        max_length=2000,
        assume_scheme="https",
        help_text="An https:// address on the public internet.",
    )
    event_types = WebhookEventTypesField()


class WebhookEventTypesForm(forms.Form):
    event_types = WebhookEventTypesField()


class DomainAddForm(forms.Form):
    domain = forms.CharField(
        label="Email domain",
        max_length=253,
        help_text="The part after @ in your people's addresses, e.g. acme.com. Subdomains are "
        "domains of their own.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class TransferPolicyForm(forms.Form):
    mode = forms.ChoiceField(
        label="File transfer", choices=TransferMode.choices, widget=forms.RadioSelect
    )
    groups = forms.ModelMultipleChoiceField(
        label="Groups whose members may use file transfer",
        required=False,
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        help_text="Used with “On for members of chosen groups”.",
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["groups"].queryset = groups_of(organization).order_by("display_name")


class FolderGrantForm(forms.Form):
    group = forms.ModelChoiceField(label="Group", queryset=None, empty_label="Choose a group")
    path = forms.CharField(
        label="Folder",
        max_length=255,
        help_text="A path from the top of the file server, e.g. /Finance or /Finance/Reports.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    access = forms.ChoiceField(
        label="Access", choices=Access.choices, initial=Access.READ, widget=forms.RadioSelect
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups_of(organization).order_by("display_name")


class TransferKeyCreateForm(forms.Form):
    label = forms.CharField(
        label="Label",
        max_length=100,
        help_text="The file server that will use this key, e.g. “sftp-1.acme.example”.",
    )


class AdminSshKeyAddForm(SshKeyAddForm):
    """The person's own form, worded for an admin who adds a key for them. Its textarea
    is never filled back in: a refused paste may be a private key."""

    prefix = None  # the only form of the user page with these fields

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"].help_text = (
            "Which computer the key is on, e.g. “Ada's laptop”. Left empty, the key's comment "
            "is used."
        )
        self.fields["public_key"].help_text = (
            "One line of the person's .pub file (e.g. id_ed25519.pub), starting with "
            "ssh-ed25519, ecdsa-sha2-… or ssh-rsa. Never the private key."
        )


class TransferSignInFilterForm(forms.Form):
    """The transfer sign-in log's filters; every field is optional."""

    person = forms.CharField(
        label="Person",
        required=False,
        max_length=200,
        help_text="Part of a userName or login name.",
    )
    # An exact pick, from a person's page or a row of the log: carried as a hidden field.
    user = forms.ModelChoiceField(queryset=None, required=False, widget=forms.HiddenInput)
    protocol = forms.ChoiceField(
        label="Protocol", required=False, choices=[("", "Any protocol"), *Protocol.choices]
    )
    result = forms.ChoiceField(
        label="Result",
        required=False,
        choices=[("", "Any result"), ("allowed", "Allowed"), ("refused", "Refused")],
    )
    since = forms.DateTimeField(
        label="Since (UTC)",
        required=False,
        widget=forms.DateTimeInput({"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = users_of(organization)

    def filters(self) -> dict:
        """Keyword arguments for transfer.selectors.organization_sign_ins, and `person`."""
        data = valid_filters(self)
        result = data.get("result") or ""
        return {
            "person": data.get("person") or "",
            "user": data.get("user"),
            "protocol": data.get("protocol") or "",
            "allowed": {"allowed": True, "refused": False}.get(result),
            "since": data.get("since"),
        }


class CustomAttributeDeclareForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=64,
        help_text="The SCIM attribute name your identity provider maps to, e.g. badgeNumber: "
        "a letter, then letters, digits, - or _. Fixed once declared.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    type = forms.ChoiceField(
        label="Type",
        choices=CustomAttributeType.choices,
        help_text="Values of another type are refused. Fixed once declared.",
    )
    multi_valued = forms.BooleanField(label="Several values (a list)", required=False)
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    indexed = forms.BooleanField(
        label="Indexed: SCIM filters may use it (eq, ne, pr)", required=False
    )


class CustomAttributeChangeForm(forms.Form):
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    indexed = forms.BooleanField(
        label="Indexed: SCIM filters may use it (eq, ne, pr)", required=False
    )


# People whom no `sub` is linked to yet are matched by one of these (sso.services.oidc).
OIDC_MATCHING_CHOICES = [
    (
        "",
        "By preferred_username: it must equal the user name of someone your identity provider "
        "provisioned",
    ),
    (
        "email",
        "By email: the email claim, with email_verified true, at one of your verified domains",
    ),
]


class OidcConnectionForm(forms.Form):
    """The OpenID Connect connection: the provider (its issuer, and its endpoints when it
    publishes no discovery document), Roster's client credentials, and how people are
    matched. The client secret is write-only: never rendered back, and left blank it
    keeps the stored one. Its fields are prefixed "oidc-": the SAML forms on the same
    page have fields of the same names."""

    prefix = "oidc"

    issuer = forms.URLField(
        label="Issuer URL",
        max_length=1024,
        assume_scheme="https",
        help_text="Exactly as the provider writes it, trailing slash included. Roster reads "
        "its endpoints from <issuer>/.well-known/openid-configuration.",
        widget=forms.URLInput(attrs={"spellcheck": "false"}),
    )
    manual_endpoints = forms.BooleanField(
        label="Enter the endpoints by hand",
        required=False,
        help_text="For a provider without a discovery document. The authorization, token and "
        "JWKS endpoints are required then.",
    )
    authorization_endpoint = forms.URLField(
        label="Authorization endpoint", required=False, max_length=1024, assume_scheme="https"
    )
    token_endpoint = forms.URLField(
        label="Token endpoint", required=False, max_length=1024, assume_scheme="https"
    )
    jwks_uri = forms.URLField(
        label="JWKS URI",
        required=False,
        max_length=1024,
        assume_scheme="https",
        help_text="Where the provider publishes the keys it signs ID tokens with.",
    )
    userinfo_endpoint = forms.URLField(
        label="UserInfo endpoint (optional)",
        required=False,
        max_length=1024,
        assume_scheme="https",
    )
    end_session_endpoint = forms.URLField(
        label="End-session endpoint (optional)",
        required=False,
        max_length=1024,
        assume_scheme="https",
        help_text="Where signing out of Roster also signs out of the provider.",
    )
    client_id = forms.CharField(
        label="Client ID",
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    client_secret = forms.CharField(
        label="Client secret",
        required=False,
        max_length=4096,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: Roster never shows a stored secret, not even here. Leave it "
        "blank to keep the stored one. Not used with a private key JWT.",
    )
    client_auth_method = forms.ChoiceField(
        label="How Roster authenticates at the token endpoint",
        choices=ClientAuthMethod.choices,
        initial=ClientAuthMethod.CLIENT_SECRET_BASIC,
        widget=forms.RadioSelect,
        help_text="With a private key JWT, Roster signs with a key of its own, published at "
        "the JWKS URL above; the provider needs no secret.",
    )
    email_claim = forms.ChoiceField(
        label="How people are matched on their first sign-in",
        choices=OIDC_MATCHING_CHOICES,
        required=False,
        initial="",
        widget=forms.RadioSelect,
        help_text="Then their sub is linked to them, and the link alone decides who they are. "
        "Groups and roles in the claims are ignored.",
    )
    jit_provisioning = forms.BooleanField(
        label="Create users on first sign-in (just-in-time)",
        required=False,
        help_text="Only for addresses in your verified domains. Off: only people provisioned "
        "over SCIM can sign in.",
    )
    allow_idp_initiated = forms.BooleanField(
        label="Allow sign-in started at the identity provider",
        required=False,
        initial=True,
        help_text="Lets people start from the provider's app tile or dashboard.",
    )

    ENDPOINTS = (
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
        "end_session_endpoint",
    )
    REQUIRED_ENDPOINTS = ENDPOINTS[:3]
    CONNECTION = (
        "client_id",
        "client_secret",
        "client_auth_method",
        "email_claim",
        "jit_provisioning",
        "allow_idp_initiated",
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("manual_endpoints"):
            for name in self.REQUIRED_ENDPOINTS:
                if not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, "Required when the endpoints are entered by hand.")
        return cleaned

    def endpoints(self) -> dict | None:
        """The endpoints typed by hand, or None to read them from the discovery document."""
        if not self.cleaned_data["manual_endpoints"]:
            return None
        return {name: self.cleaned_data[name] for name in self.ENDPOINTS}

    def connection_fields(self) -> dict:
        """Keyword arguments for sso.services.oidc.oidc_configure."""
        return {name: self.cleaned_data[name] for name in self.CONNECTION}

    def endpoint_fields(self):
        return [self[name] for name in self.ENDPOINTS]

    def choice_fields(self):
        return [self["client_auth_method"], self["email_claim"]]

    def option_fields(self):
        return [self["jit_provisioning"], self["allow_idp_initiated"]]
