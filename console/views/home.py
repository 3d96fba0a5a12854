from django.shortcuts import render

from console import charts, selectors
from console.onboarding import onboarding_steps
from console.permissions import console_admin_required
from console.views.sso_status import sso_summary
from provisioning.selectors import last_scim_request, provisioning_health


@console_admin_required
def home(request):
    organization = request.user.organization
    steps = onboarding_steps(organization)
    return render(
        request,
        "console/home.html",
        {
            "nav": "home",
            "organization": organization,
            "counts": selectors.organization_counts(organization),
            "live_tokens": selectors.live_token_count(organization),
            "last_scim": last_scim_request(organization),
            "health": provisioning_health(organization),
            "sso": sso_summary(organization),
            # The checklist shows until every step is done, then leaves the page.
            "onboarding": steps if not all(step.done for step in steps) else None,
            "onboarding_done": sum(step.done for step in steps),
            "chart": charts.stacked_bars(selectors.daily_changes(organization)),
        },
    )
