import datetime as dt

from django.urls import reverse
from django.utils import timezone

from accounts.services import group_members_add, user_deactivate, user_update
from console import charts
from console.selectors import daily_changes
from provisioning.models import ScimRequest
from provisioning.services import token_revoke


def logged_request(token, *, method, path, status, at=None):
    """A row of the SCIM request log, as the request gate writes it."""
    return ScimRequest.objects.create(
        organization=token.organization,
        token=token,
        at=at or timezone.now(),
        method=method,
        path=path,
        resource=path.split("/")[3],
        status=status,
        duration_ms=1.0,
    )


def test_counts(owner_client, organization, make_user, make_group, make_scim_token, system_actor):
    make_user(organization)
    make_user(organization, is_active=False)
    make_group(organization)
    make_scim_token(organization)
    revoked, _ = make_scim_token(organization)
    token_revoke(token=revoked, actor=system_actor)
    counts = owner_client.get(reverse("console:home")).context
    assert counts["counts"] == {"active": 2, "deactivated": 1, "groups": 1}  # owner + 1
    assert counts["live_tokens"] == 1


def test_last_scim_request_and_sso_status(owner_client, organization, make_scim_token):
    token, _ = make_scim_token(organization, label="Okta")
    logged_request(token, method="PATCH", path="/scim/v2/Users/42", status=204)
    body = owner_client.get(reverse("console:home")).content.decode()
    assert "PATCH /scim/v2/Users/42" in body and token.prefix in body and ">204<" in body
    assert "No identity provider is configured yet." in body


def test_the_newest_request_in_the_log_is_the_last_one(
    owner_client, organization, other_organization, make_scim_token
):
    okta, _ = make_scim_token(organization, label="Okta")
    entra, _ = make_scim_token(organization, label="Entra")
    now = timezone.now()
    logged_request(okta, method="GET", path="/scim/v2/Groups", status=200, at=now)
    logged_request(
        entra,
        method="DELETE",
        path="/scim/v2/Users/7",
        status=404,
        at=now - dt.timedelta(minutes=5),
    )
    elsewhere, _ = make_scim_token(other_organization)
    logged_request(
        elsewhere,
        method="POST",
        path="/scim/v2/Users",
        status=201,
        at=now + dt.timedelta(seconds=1),
    )
    body = owner_client.get(reverse("console:home")).content.decode()
    assert "GET /scim/v2/Groups" in body and okta.prefix in body
    assert "/scim/v2/Users" not in body


def test_no_scim_request_yet(owner_client):
    assert b"No SCIM request yet." in owner_client.get(reverse("console:home")).content


def test_daily_changes_counts_each_kind_in_one_query(
    organization, make_user, make_group, system_actor, django_assert_num_queries
):
    ada = make_user(organization)
    user_update(user=ada, given_name="Ada", actor=system_actor)
    user_deactivate(user=ada, actor=system_actor)
    group = make_group(organization)
    group_members_add(group=group, users=[ada], actor=system_actor)
    with django_assert_num_queries(1):
        series = daily_changes(organization)
    assert len(series) == 30
    today, counts = series[-1]
    assert today == timezone.localdate()
    assert counts == {"created": 1, "updated": 1, "deactivated": 1, "groups": 2}
    assert all(sum(c.values()) == 0 for _, c in series[:-1])


def test_chart_is_server_rendered_svg_without_inline_styles(owner_client, organization, make_user):
    make_user(organization)
    body = owner_client.get(reverse("console:home")).content.decode()
    assert "<svg" in body and "<rect" in body
    assert "style=" not in body and "<script>" not in body


def test_stacked_bars_geometry():
    day = dt.date(2026, 1, 31)
    series = [(day - dt.timedelta(days=1), dict.fromkeys(charts.KIND_STYLES, 0))]
    series.append((day, {"created": 6, "updated": 2, "deactivated": 0, "groups": 2}))
    chart = charts.stacked_bars(series)
    assert chart.total == 10
    assert [tick[1] for tick in chart.ticks] == [0, 2, 4, 6, 8, 10]
    bars = chart.days[1].bars
    assert [b.kind for b in bars] == ["created", "updated", "groups"]
    # Stacked: each bar starts where the one below it ends, and the top reaches the axis max.
    assert bars[0].y + bars[0].height == chart.plot_bottom
    assert abs(bars[1].y + bars[1].height - bars[0].y) < 0.2
    assert abs(bars[-1].y - charts.TOP) < 0.2
    assert chart.days[0].bars == [] and chart.days[1].show_label


def test_counts_read_in_the_singular_for_one(
    owner_client, organization, make_group, make_scim_token
):
    make_group(organization)
    make_scim_token(organization)
    body = owner_client.get(reverse("console:home")).content.decode()
    assert '1</span> <span class="stat-label">group</span>' in body
    assert "live provisioning token</span>" in body
    assert "active user</span>" in body  # the owner alone


def test_a_request_under_a_minute_old_is_just_now(owner_client, organization, make_scim_token):
    token, _ = make_scim_token(organization, label="Okta")
    logged_request(token, method="GET", path="/scim/v2/Users", status=200)
    for page in ("console:home", "console:provisioning"):
        body = owner_client.get(reverse(page)).content.decode()
        assert "just now" in body
        assert " 0 minutes" not in body
