"""What the console says about an organization's single sign-on at a glance."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from sso.certificates import CertificateInfo, certificate_expiries
from sso.selectors import idp_of

# Identity providers rotate signing certificates; warn this long before one expires.
CERTIFICATE_WARNING = timedelta(days=30)


@dataclass
class SsoSummary:
    status: str  # "none", "off" or "on"
    idp: object = None
    certificates: list[CertificateInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def sso_summary(organization) -> SsoSummary:
    idp = idp_of(organization)
    if idp is None:
        return SsoSummary(status="none")
    summary = SsoSummary(status="on" if idp.enabled else "off", idp=idp)
    summary.certificates = certificate_expiries(idp)
    if not summary.certificates:
        return summary
    now = timezone.now()
    # With a rollover in place, the certificate that lasts longest is the one to watch.
    latest = summary.certificates[-1]
    if latest.not_after <= now:
        summary.warnings.append(
            f"The IdP signing certificate {latest.subject} expired on "
            f"{latest.not_after:%Y-%m-%d}; sign-ins are refused until you paste the identity "
            "provider's current metadata or certificate."
        )
    elif latest.not_after - now < CERTIFICATE_WARNING:
        days = (latest.not_after - now).days
        summary.warnings.append(
            f"The IdP signing certificate {latest.subject} expires on "
            f"{latest.not_after:%Y-%m-%d} (in {days} day{'s' if days != 1 else ''}). "
            "Add the identity provider's new certificate before then."
        )
    return summary
