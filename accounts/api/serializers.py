"""The API's representations; users and groups are the event snapshots themselves."""

from rest_framework import serializers

from accounts.events.snapshots import event_body, group_snapshot, user_snapshot


class UserSerializer(serializers.BaseSerializer):
    def to_representation(self, instance):
        return user_snapshot(instance)


class GroupSerializer(serializers.BaseSerializer):
    def to_representation(self, instance):
        return group_snapshot(instance)


class MemberSerializer(serializers.BaseSerializer):
    """A membership shown as its user, with the time the user joined."""

    def to_representation(self, instance):
        return {**user_snapshot(instance.user), "joined_at": _time(instance.created_at)}


class EventSerializer(serializers.BaseSerializer):
    def to_representation(self, instance):
        return event_body(instance)


def _time(value) -> str:
    return value.isoformat().replace("+00:00", "Z")
