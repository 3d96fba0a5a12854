from django.urls import reverse


def test_groups_are_listed_by_name_with_member_counts(
    owner_client, organization, make_user, make_group
):
    ada, grace = make_user(organization), make_user(organization)
    make_group(organization, "Research", members=[ada])
    make_group(organization, "Engineering", members=[ada, grace])
    response = owner_client.get(reverse("console:groups"))
    rows = [(g.display_name, g.member_count) for g in response.context["page"].items]
    assert rows == [("Engineering", 2), ("Research", 1)]


def test_group_search(owner_client, organization, make_group):
    make_group(organization, "Research")
    make_group(organization, "Engineering")
    response = owner_client.get(reverse("console:groups"), {"q": "engi"})
    assert [g.display_name for g in response.context["page"].items] == ["Engineering"]


def test_group_list_queries_do_not_grow_with_the_page(
    owner_client, organization, make_user, make_group, django_assert_max_num_queries
):
    people = [make_user(organization) for _ in range(3)]
    for i in range(10):
        make_group(organization, f"Group {i:02}", members=people)
    counts = []
    for size in (2, 10):
        with django_assert_max_num_queries(7) as captured:
            response = owner_client.get(reverse("console:groups"), {"size": size})
        assert len(response.context["page"].items) == size
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


def test_group_detail_pages_through_members(
    owner_client, organization, make_user, make_group, django_assert_max_num_queries
):
    people = [make_user(organization, f"m{i:02}@acme.example") for i in range(5)]
    group = make_group(organization, "Engineering", members=people)
    url = reverse("console:group_detail", args=[group.pk])
    counts = []
    for size in (2, 5):
        # session, user, organization, group, page, recent events, session save
        with django_assert_max_num_queries(9) as captured:
            owner_client.get(url, {"size": size})
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]

    first = owner_client.get(url, {"size": 2}).context["page"]
    assert [p.username for p in first.items] == ["m00@acme.example", "m01@acme.example"]
    second = owner_client.get(url, {"size": 2, "cursor": first.next_cursor}).context["page"]
    assert [p.username for p in second.items] == ["m02@acme.example", "m03@acme.example"]
    assert b"Group created" in owner_client.get(url).content


def test_empty_group_says_so(owner_client, organization, make_group):
    group = make_group(organization, "Nobody")
    response = owner_client.get(reverse("console:group_detail", args=[group.pk]))
    assert b"This group has no members." in response.content


def test_an_owner_maps_a_group_to_the_admin_role_and_back(
    owner_client, organization, org_owner, make_user, make_group
):
    from accounts.models import AuditAction, AuditEvent, Role

    kim = make_user(organization, "kim@acme.example")
    group = make_group(organization, "Roster admins", members=[kim])
    url = reverse("console:group_role_mapping", args=[group.pk])

    page = owner_client.post(url, {"grants_admin": "on"}, follow=True).content.decode()
    kim.refresh_from_db()
    assert (kim.role, kim.role_from_mapping) == (Role.ADMIN, True)
    assert "Members of Roster admins are console admins." in page
    assert "from a mapped group" in page
    event = AuditEvent.objects.get(action=AuditAction.GROUP_UPDATED, target_id=str(group.pk))
    assert (event.actor_id, event.changes) == (
        str(org_owner.pk),
        {"grantsAdmin": {"from": False, "to": True}},
    )

    owner_client.post(url)
    kim.refresh_from_db()
    assert (kim.role, kim.role_from_mapping) == (Role.MEMBER, False)


def test_an_admin_sees_the_mapping_but_cannot_change_it(
    admin_client, organization, make_user, make_group
):
    from accounts.models import AuditAction, AuditEvent, Role

    kim = make_user(organization, "kim@acme.example")
    group = make_group(organization, "Roster admins", members=[kim])
    detail = admin_client.get(reverse("console:group_detail", args=[group.pk])).content.decode()
    assert "Only owners map groups to the admin role" in detail
    assert "Make members console admins" not in detail

    url = reverse("console:group_role_mapping", args=[group.pk])
    response = admin_client.post(url, {"grants_admin": "on"})

    assert response.status_code == 403
    assert "Only owners can change which groups grant the admin role." in response.content.decode()
    group.refresh_from_db()
    kim.refresh_from_db()
    assert (group.grants_admin, kim.role) == (False, Role.MEMBER)
    assert not AuditEvent.objects.filter(
        action=AuditAction.GROUP_UPDATED, target_id=str(group.pk)
    ).exists()


def test_mapping_is_refused_to_members_and_other_organizations(
    member_client, other_admin_client, organization, make_group
):
    group = make_group(organization, "Roster admins")
    url = reverse("console:group_role_mapping", args=[group.pk])
    assert member_client.post(url, {"grants_admin": "on"}).status_code == 403
    assert other_admin_client.post(url, {"grants_admin": "on"}).status_code == 404
    assert other_admin_client.get(url).status_code == 405
    group.refresh_from_db()
    assert not group.grants_admin
