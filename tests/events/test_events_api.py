"""GET /api/v1/events: the envelope, cursors, type filters and refusals."""

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.events import stream
from accounts.events.models import EventType
from accounts.services import group_members_add, user_deactivate, user_update

# Committed rows: on PostgreSQL the stream serves only events of finished transactions.
pytestmark = pytest.mark.django_db(transaction=True)


def test_events_come_in_order_with_snapshots_and_changes(
    api, organization, make_user, system_actor
):
    ann = make_user(organization, "ann@acme.example", external_id="00u1")
    user_update(user=ann, actor=system_actor, given_name="Ann")
    user_deactivate(user=ann, actor=system_actor)

    events, _ = api.follow_events(3)

    assert [(event["type"], event["data"]["user"]["version"]) for event in events] == [
        (EventType.USER_CREATED, 1),
        (EventType.USER_UPDATED, 2),
        (EventType.USER_DEACTIVATED, 3),
    ]
    assert events[1]["data"]["changes"] == ["given_name"]
    assert set(events[0]) == {"id", "type", "occurred_at", "data"}
    user = events[2]["data"]["user"]
    assert (user["id"], user["username"], user["email"], user["active"], user["external_id"]) == (
        str(ann.pk),
        "ann@acme.example",
        "ann@acme.example",
        False,
        "00u1",
    )


def test_pages_follow_each_other_and_the_end_names_where_to_poll(api, organization, make_user):
    users = [make_user(organization) for _ in range(5)]
    first, _ = api.follow_events(5)
    assert len(first) == 5

    page = api.get("/events", limit=2).json()
    assert (len(page["data"]), page["has_more"]) == (2, True)
    second = api.get("/events", limit=2, after=page["next_cursor"]).json()
    third = api.get("/events", limit=2, after=second["next_cursor"]).json()
    seen = [event["data"]["user"]["id"] for event in page["data"] + second["data"] + third["data"]]
    assert seen == [str(user.pk) for user in users]
    assert third["has_more"] is False

    end = api.get("/events", after=third["next_cursor"]).json()
    assert end["data"] == [] and end["has_more"] is False and end["next_cursor"]
    later = make_user(organization)
    events, _ = api.follow_events(1, after=end["next_cursor"])
    assert [event["data"]["user"]["id"] for event in events] == [str(later.pk)]


def test_an_empty_stream_still_answers_a_cursor(api):
    body = api.get("/events").json()
    assert body["data"] == [] and body["has_more"] is False
    assert stream.decode_cursor(body["next_cursor"]).event_id == 0


def test_types_filter_keeps_only_those_types(
    api, organization, make_user, make_group, system_actor
):
    ann = make_user(organization)
    group = make_group(organization)
    group_members_add(group=group, users=[ann], actor=system_actor)
    events, _ = api.follow_events(1, types="group.member_added")
    assert [(event["type"], event["data"]["user"]["id"]) for event in events] == [
        (EventType.GROUP_MEMBER_ADDED, str(ann.pk))
    ]
    assert events[0]["data"]["group"]["id"] == str(group.pk)


def test_unknown_type_is_a_400(api):
    response = api.get("/events", types="user.created,user.exploded")
    assert response.status_code == 400
    assert response.json() == {"types": "Unknown event types: user.exploded."}


@pytest.mark.parametrize(
    "cursor", ["nonsense", "!!!", base64.urlsafe_b64encode(b"9:1:2:3").decode()]
)
def test_malformed_cursor_is_a_400(api, cursor):
    response = api.get("/events", after=cursor)
    assert response.status_code == 400
    assert "malformed" in response.json()["after"]


def test_cursor_older_than_the_retention_is_a_400(api, settings):
    old = timezone.now() - timedelta(days=settings.EVENT_RETENTION_DAYS + 1)
    cursor = stream.encode_cursor(stream.Position(0, 0, old))
    response = api.get("/events", after=cursor)
    assert response.status_code == 400
    assert "older than the event retention" in response.json()["after"]


@pytest.mark.parametrize("limit", ["0", "-3", "ten"])
def test_bad_limit_is_a_400(api, limit):
    response = api.get("/events", limit=limit)
    assert response.status_code == 400
    assert response.json() == {"limit": "limit must be a positive integer."}


def test_limit_is_capped_at_500(api, organization, make_user):
    from accounts.api.pagination import limit_from

    class Request:
        query_params = {"limit": "10000"}

    assert limit_from(Request()) == 500
