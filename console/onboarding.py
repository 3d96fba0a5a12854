"""The Overview's setup checklist: each step is ticked by the data that proves it done."""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef
from django.urls import reverse

from accounts.models import AuditAction, AuditEvent, Organization, Source, User
from provisioning.models import ProvisioningToken
from sso.models import OidcConnection, SamlIdentityProvider
from transfer import sign_in_log
from transfer.models import TransferKey, TransferMode, TransferPolicy, TransferSignIn


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    hint: str
    url: str
    done: bool


def _facts(organization: Organization) -> dict[str, bool]:
    """Whether each step happened, in one query of EXISTS subqueries."""
    tokens = ProvisioningToken.objects.filter(organization=OuterRef("pk"))
    facts = {
        "token": Exists(tokens),
        "scim_request": Exists(tokens.filter(last_used_at__isnull=False)),
        "scim_user": Exists(User.objects.filter(organization=OuterRef("pk"), source=Source.SCIM)),
        "sso": Exists(
            SamlIdentityProvider.objects.filter(organization=OuterRef("pk"), enabled=True)
        )
        | Exists(OidcConnection.objects.filter(organization=OuterRef("pk"), enabled=True)),
        "sso_sign_in": Exists(
            AuditEvent.objects.filter(organization=OuterRef("pk"), action=AuditAction.SSO_LOGIN)
        ),
        "transfer_on": Exists(
            TransferPolicy.objects.filter(organization=OuterRef("pk")).exclude(
                mode=TransferMode.OFF
            )
        ),
        "transfer_key": Exists(TransferKey.objects.filter(organization=OuterRef("pk"))),
        "transfer_sign_in": Exists(
            TransferSignIn.objects.filter(organization=OuterRef("pk"), allowed=True)
        ),
    }
    return Organization.objects.filter(pk=organization.pk).annotate(**facts).values(*facts).get()


def onboarding_steps(organization: Organization) -> list[Step]:
    sign_in_log.drain_before_reading()  # a first allowed login may wait in Redis
    facts = _facts(organization)
    provisioning, sso = reverse("console:provisioning"), reverse("console:sso")
    transfer = reverse("console:transfer")
    return [
        Step(
            "token",
            "Create a provisioning token",
            "Paste it into your identity provider with the SCIM base URL.",
            provisioning,
            facts["token"],
        ),
        Step(
            "scim_request",
            "Receive the first SCIM request",
            "Test the connection from Okta or Entra ID.",
            provisioning,
            facts["scim_request"],
        ),
        Step(
            "scim_user",
            "Provision the first user",
            "Assign someone to the app in your identity provider.",
            reverse("console:users"),
            facts["scim_user"],
        ),
        Step(
            "sso",
            "Set up single sign-on",
            "Save your identity provider's metadata, then turn sign-on on.",
            sso,
            facts["sso"],
        ),
        Step(
            "sso_sign_in",
            "First sign-in through single sign-on",
            "Use Test sign-in, or the app tile in your identity provider.",
            sso,
            facts["sso_sign_in"],
        ),
        Step(
            "transfer_on",
            "Turn file transfer on",
            "For every active user, or for the members of chosen groups.",
            transfer,
            facts["transfer_on"],
        ),
        Step(
            "transfer_key",
            "Create a transfer key",
            "Your file server asks Roster with it whether each login is allowed.",
            transfer,
            facts["transfer_key"],
        ),
        Step(
            "transfer_sign_in",
            "First file-transfer login",
            "Log in to your file server with an SSH key or an app password.",
            reverse("console:transfer_sign_ins"),
            facts["transfer_sign_in"],
        ),
    ]
