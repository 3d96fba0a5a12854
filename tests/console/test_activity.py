import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from accounts.actors import Actor
from accounts.models import AuditAction, AuditEvent
from accounts.services import audit_record, user_deactivate, user_delete


def _actions(response):
    return [event.action for event, _ in response.context["rows"]]


def test_activity_is_newest_first_and_links_to_targets(
    owner_client, organization, make_user, make_group
):
    person = make_user(organization, "ada@acme.example")
    group = make_group(organization, "Engineering")
    response = owner_client.get(reverse("console:activity"))
    rows = response.context["rows"]
    assert rows[0][0].action == AuditAction.GROUP_CREATED
    assert rows[0][1] == reverse("console:group_detail", args=[group.pk])
    user_row = next(row for row in rows if row[0].target_id == str(person.pk))
    assert user_row[1] == reverse("console:user_detail", args=[person.pk])


def test_a_deleted_user_links_to_its_history(owner_client, organization, make_user, system_actor):
    person = make_user(organization, "ada@acme.example")
    person_id = person.pk
    user_delete(user=person, actor=system_actor)
    rows = owner_client.get(reverse("console:activity")).context["rows"]
    link = next(link for event, link in rows if event.action == AuditAction.USER_DELETED)
    assert link == reverse("console:activity") + f"?target=user%3A{person_id}"


def test_filters_by_action_actor_and_target(
    owner_client, organization, org_owner, make_user, system_actor
):
    ada = make_user(organization, "ada@acme.example")
    grace = make_user(organization, "grace@acme.example")
    user_deactivate(user=ada, actor=Actor.for_user(org_owner))
    user_deactivate(user=grace, actor=system_actor)
    url = reverse("console:activity")

    by_action = owner_client.get(url, {"action": AuditAction.USER_DEACTIVATED})
    assert _actions(by_action) == [AuditAction.USER_DEACTIVATED] * 2
    by_actor = owner_client.get(
        url, {"action": AuditAction.USER_DEACTIVATED, "actor": f"user:{org_owner.pk}"}
    )
    assert [e.target_label for e, _ in by_actor.context["rows"]] == ["ada@acme.example"]
    by_target = owner_client.get(url, {"target": f"user:{grace.pk}"})
    assert {e.target_id for e, _ in by_target.context["rows"]} == {str(grace.pk)}
    by_label = owner_client.get(url, {"target": "grace@"})
    assert {e.target_label for e, _ in by_label.context["rows"]} == {"grace@acme.example"}


def test_token_actor_filter(owner_client, organization, make_scim_token):
    token, _ = make_scim_token(organization, label="Okta")
    actor = Actor.for_token(token_id=token.pk, prefix=token.prefix, label=token.label)
    audit_record(organization=organization, actor=actor, action=AuditAction.USER_UPDATED)
    response = owner_client.get(reverse("console:activity"), {"actor": f"token:{token.pk}"})
    assert [e.actor_label for e, _ in response.context["rows"]] == [actor.label]
    assert f"Token: Okta ({token.prefix})".encode() in response.content


def test_date_range(owner_client, organization):
    today = dt.date.today()
    url = reverse("console:activity")
    assert owner_client.get(url, {"since": today.isoformat()}).context["rows"]
    assert not owner_client.get(url, {"until": (today - dt.timedelta(days=1)).isoformat()}).context[
        "rows"
    ]
    backwards = owner_client.get(
        url, {"since": today.isoformat(), "until": (today - dt.timedelta(days=3)).isoformat()}
    )
    assert b"The end date is before the start date." in backwards.content


def test_activity_queries_do_not_grow_with_the_page(
    owner_client, organization, make_user, make_group, django_assert_max_num_queries
):
    for i in range(10):
        make_user(organization)
        make_group(organization, f"G{i}")
    counts = []
    for size in (4, 20):
        # session, user, organization, admins and tokens for the actor filter, the page,
        # at most one existence query per linked target type, session save.
        with django_assert_max_num_queries(11) as captured:
            response = owner_client.get(reverse("console:activity"), {"size": size})
        assert len(response.context["rows"]) == size
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


def test_pages_of_activity(owner_client, organization, make_user):
    for _ in range(5):
        make_user(organization)
    url = reverse("console:activity")
    first = owner_client.get(url, {"size": 4}).context["page"]
    second = owner_client.get(url, {"size": 4, "cursor": first.next_cursor}).context["page"]
    ids = [e.pk for e in first.items] + [e.pk for e in second.items]
    assert ids == list(
        AuditEvent.objects.filter(organization=organization).values_list("pk", flat=True)[:8]
    )


def _csv(response):
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_export_streams_the_filtered_view(owner_client, organization, make_user, org_owner):
    ada = make_user(organization, "ada@acme.example")
    user_deactivate(user=ada, actor=Actor.for_user(org_owner))
    response = owner_client.get(
        reverse("console:activity_export"), {"action": AuditAction.USER_DEACTIVATED}
    )
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="acme-activity-' in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0][:3] == ["occurred_at", "action", "actor_type"]
    assert [(r[1], r[4], r[7]) for r in rows[1:]] == [
        ("user.deactivated", "owner@acme.example", "ada@acme.example")
    ]


def test_csv_export_neutralises_spreadsheet_formulas(owner_client, organization, make_user):
    make_user(organization, '=HYPERLINK("http://evil")')
    rows = _csv(owner_client.get(reverse("console:activity_export")))
    labels = [row[7] for row in rows[1:]]
    assert '\'=HYPERLINK("http://evil")' in labels


def test_csv_export_holds_only_this_organization(
    owner_client, organization, other_organization, make_user
):
    make_user(other_organization, "secret@globex.example")
    body = b"".join(owner_client.get(reverse("console:activity_export")).streaming_content)
    assert b"globex" not in body


@pytest.mark.parametrize("bad", [{"since": "yesterday"}, {"action": "user.exploded"}])
def test_bad_filters_are_explained_not_errors(owner_client, org_owner, bad):
    response = owner_client.get(reverse("console:activity"), bad)
    assert response.status_code == 200
    assert response.context["form"].errors


def test_the_table_and_the_filter_name_each_action_alike(owner_client, organization, org_owner):
    audit_record(
        organization=organization,
        actor=Actor.for_user(org_owner),
        action=AuditAction.SSO_CONFIGURED,
        target_type="saml_idp",
        target_id="1",
    )
    body = owner_client.get(reverse("console:activity")).content.decode()
    assert '<option value="sso.configured">Single sign-on configured</option>' in body
    assert '<span class="action">Single sign-on configured</span>' in body
    assert "Sso" not in body
