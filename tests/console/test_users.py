import pytest
from django.urls import reverse

from accounts.models import AuditAction, AuditEvent, Role, User


def _usernames(response):
    return [person.username for person in response.context["page"].items]


def test_users_are_listed_newest_first(owner_client, organization, make_user):
    first = make_user(organization, "first@acme.example")
    second = make_user(organization, "second@acme.example")
    response = owner_client.get(reverse("console:users"))
    assert response.status_code == 200
    names = _usernames(response)
    assert names.index(second.username) < names.index(first.username)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ADA", ["ada@acme.example"]),  # username, case-insensitively
        ("lovelace", ["ada@acme.example"]),  # family name
        ("Countess", ["ada@acme.example"]),  # display name
        ("grace.h@", ["grace"]),  # email
    ],
)
def test_search_matches_username_email_and_names(
    owner_client, organization, make_user, query, expected
):
    make_user(
        organization,
        "ada@acme.example",
        family_name="Lovelace",
        display_name="Ada, Countess of Lovelace",
    )
    make_user(organization, "grace", email="grace.h@acme.example")
    response = owner_client.get(reverse("console:users"), {"q": query})
    assert _usernames(response) == expected


def test_status_and_group_filters(owner_client, organization, make_user, make_group):
    active = make_user(organization, "active@acme.example")
    gone = make_user(organization, "gone@acme.example", is_active=False)
    make_group(organization, "Engineering", members=[active, gone])
    outsider = make_user(organization, "outsider@acme.example")
    group = organization.groups.get()

    deactivated = owner_client.get(reverse("console:users"), {"status": "deactivated"})
    assert _usernames(deactivated) == ["gone@acme.example"]
    in_group = owner_client.get(reverse("console:users"), {"group": group.pk, "status": "active"})
    assert _usernames(in_group) == ["active@acme.example"]
    assert outsider.username not in _usernames(in_group)


def test_group_filter_refuses_another_organizations_group(
    owner_client, other_organization, make_group
):
    foreign = make_group(other_organization, "Foreign")
    response = owner_client.get(reverse("console:users"), {"group": foreign.pk})
    assert response.status_code == 200
    assert response.context["form"].errors["group"]


def test_pages_walk_forward_and_back_without_gaps(owner_client, organization, make_user):
    made = [make_user(organization, f"person{i:02}@acme.example").username for i in range(7)]
    everyone = [*reversed(made), "owner@acme.example"]
    seen, cursor = [], ""
    pages = []
    while True:
        response = owner_client.get(reverse("console:users"), {"size": 3, "cursor": cursor})
        page = response.context["page"]
        pages.append(page)
        seen += _usernames(response)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == everyone
    back = owner_client.get(
        reverse("console:users"), {"size": 3, "cursor": pages[-1].previous_cursor}
    )
    assert _usernames(back) == everyone[3:6]


def test_a_made_up_cursor_shows_the_first_page(owner_client, org_owner):
    response = owner_client.get(reverse("console:users"), {"cursor": "not-a-cursor!"})
    assert response.status_code == 200
    assert _usernames(response) == [org_owner.username]


def test_no_whole_table_count_and_constant_queries(
    owner_client, organization, make_user, make_group, django_assert_max_num_queries
):
    people = [make_user(organization, f"p{i}@acme.example") for i in range(12)]
    make_group(organization, "Everyone", members=people)
    counts = []
    for size in (3, 12):
        # session, user, organization, the page (size + 1 rows), the group filter's
        # choices, and the session's save: nothing per row, no COUNT of the table.
        with django_assert_max_num_queries(8) as captured:
            response = owner_client.get(reverse("console:users"), {"size": size, "q": "acme"})
        assert len(response.context["page"].items) == size
        assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


def test_detail_shows_attributes_groups_source_and_activity(
    owner_client, organization, make_user, make_group
):
    person = make_user(
        organization,
        "ada@acme.example",
        given_name="Ada",
        family_name="Lovelace",
        title="Analyst",
        enterprise={"department": "Engineering"},
    )
    make_group(organization, "Analytical Engines", members=[person])
    response = owner_client.get(reverse("console:user_detail", args=[person.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    for text in (
        "Ada Lovelace",
        "Analyst",
        "Engineering",
        "Analytical Engines",
        "SCIM provisioning",
        "User created",
    ):
        assert text in body


def test_deactivation_asks_for_confirmation_first(owner_client, organization, make_user):
    person = make_user(organization, "ada@acme.example")
    url = reverse("console:user_deactivate", args=[person.pk])
    page = owner_client.get(url)
    assert page.status_code == 200
    assert b"source of truth" in page.content
    person.refresh_from_db()
    assert person.is_active

    response = owner_client.post(url)
    assert response.status_code == 302
    person.refresh_from_db()
    assert not person.is_active
    event = AuditEvent.objects.get(action=AuditAction.USER_DEACTIVATED, target_id=str(person.pk))
    assert event.actor_label == "owner@acme.example"


def test_an_admin_cannot_deactivate_an_owner_and_is_told_why(admin_client, org_owner):
    url = reverse("console:user_deactivate", args=[org_owner.pk])
    page = admin_client.post(url, follow=True)
    org_owner.refresh_from_db()
    assert org_owner.is_active
    assert b"Only owners can deactivate an owner." in page.content


def test_an_owner_cannot_deactivate_themselves(owner_client, org_owner):
    url = reverse("console:user_deactivate", args=[org_owner.pk])
    page = owner_client.post(url, follow=True)
    org_owner.refresh_from_db()
    assert org_owner.is_active
    assert b"You cannot deactivate yourself" in page.content


def test_reactivation(owner_client, organization, make_user):
    person = make_user(organization, "ada@acme.example", is_active=False)
    response = owner_client.post(reverse("console:user_reactivate", args=[person.pk]), follow=True)
    person.refresh_from_db()
    assert person.is_active
    assert b"is active again" in response.content


def test_actions_need_a_csrf_token(organization, org_owner, make_user):
    from django.test import Client

    person = make_user(organization, "ada@acme.example")
    client = Client(enforce_csrf_checks=True)
    client.force_login(org_owner, backend="accounts.backends.ConsoleEmailBackend")
    response = client.post(reverse("console:user_deactivate", args=[person.pk]))
    assert response.status_code == 403
    person.refresh_from_db()
    assert person.is_active


def test_admin_grants_and_removes_the_admin_role(admin_client, organization, make_user):
    person = make_user(organization, "ada@acme.example")
    url = reverse("console:user_role", args=[person.pk])
    admin_client.post(url, {"role": Role.ADMIN})
    person.refresh_from_db()
    assert person.role == Role.ADMIN
    admin_client.post(url, {"role": Role.MEMBER})
    person.refresh_from_db()
    assert person.role == Role.MEMBER


def test_admin_cannot_grant_owner_and_is_told_why(admin_client, organization, make_user):
    person = make_user(organization, "ada@acme.example")
    response = admin_client.post(
        reverse("console:user_role", args=[person.pk]), {"role": Role.OWNER}, follow=True
    )
    person.refresh_from_db()
    assert person.role == Role.MEMBER
    assert b"Only owners can grant or remove the owner role." in response.content


def test_owner_grants_owner_and_the_last_owner_keeps_the_role(
    owner_client, organization, org_owner, make_user
):
    person = make_user(organization, "ada@acme.example")
    owner_client.post(reverse("console:user_role", args=[person.pk]), {"role": Role.OWNER})
    person.refresh_from_db()
    assert person.role == Role.OWNER

    owner_client.post(reverse("console:user_role", args=[person.pk]), {"role": Role.MEMBER})
    response = owner_client.post(
        reverse("console:user_role", args=[org_owner.pk]), {"role": Role.MEMBER}, follow=True
    )
    assert User.objects.get(pk=org_owner.pk).role == Role.OWNER
    assert b"at least one active owner" in response.content


def test_unknown_role_is_a_message_not_an_error(owner_client, organization, make_user):
    person = make_user(organization, "ada@acme.example")
    response = owner_client.post(
        reverse("console:user_role", args=[person.pk]), {"role": "emperor"}, follow=True
    )
    assert response.status_code == 200
    assert b"Choose one of the listed roles." in response.content


def test_an_invalid_filter_is_reported_and_the_valid_ones_still_apply(
    owner_client, organization, make_user
):
    make_user(organization, "ada@acme.example")
    make_user(organization, "grace@acme.example")
    response = owner_client.get(reverse("console:users"), {"q": "ada", "group": "not-a-group"})
    assert response.context["form"].errors["group"]
    assert _usernames(response) == ["ada@acme.example"]


def test_an_admin_sees_no_role_form_for_an_owner(admin_client, org_owner):
    response = admin_client.get(reverse("console:user_detail", args=[org_owner.pk]))
    assert b"Only owners can change an owner's role." in response.content
    assert reverse("console:user_role", args=[org_owner.pk]).encode() not in response.content


def test_an_owner_links_a_console_admin_to_the_identity_provider(owner_client, org_admin):
    response = owner_client.post(
        reverse("console:user_idp_link", args=[org_admin.pk]), {"linked": "on"}, follow=True
    )
    assert "is linked to the identity provider" in response.content.decode()
    org_admin.refresh_from_db()
    assert org_admin.idp_linked and org_admin.is_idp_managed
    event = AuditEvent.objects.get(action=AuditAction.USER_IDP_LINKED)
    assert event.changes == {"idp_linked": {"from": False, "to": True}}


def test_an_admin_cannot_link_users_to_the_identity_provider(org_admin, make_user, organization):
    from django.test import Client

    other = make_user(organization, "other-admin@acme.example", role=Role.ADMIN, source="manual")
    client = Client()
    client.force_login(org_admin, backend="accounts.backends.ConsoleEmailBackend")
    response = client.post(
        reverse("console:user_idp_link", args=[other.pk]), {"linked": "on"}, follow=True
    )
    assert "Only owners can link users" in response.content.decode()
    other.refresh_from_db()
    assert not other.idp_linked
