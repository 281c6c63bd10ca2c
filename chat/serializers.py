from rest_framework import serializers

from uploads.serializers import UploadSerializer
from zzalu import text

from .models import ChatRoom
from .services import MAX_TAGS


class RoomSerializer(serializers.ModelSerializer):
    image_url = serializers.CharField(
        source="image_src",
        read_only=True,
        help_text="What to show: the uploaded image's URL, else an http(s) URL, or empty.",
    )
    image = UploadSerializer(read_only=True, allow_null=True, help_text="The uploaded image.")
    tags = serializers.SerializerMethodField()
    owner = serializers.SerializerMethodField()
    online = serializers.SerializerMethodField(help_text="Open sockets in the room right now.")
    unread = serializers.SerializerMethodField(
        help_text="Others' messages after your read marker; null unless you joined the room."
    )

    class Meta:
        model = ChatRoom
        fields = (
            "id",
            "name",
            "description",
            "image_url",
            "image",
            "tags",
            "owner",
            "owner_id",
            "slow_mode_seconds",
            "like_count",
            "online",
            "unread",
            "last_seq",
            "created_at",
            "last_activity_at",
        )
        read_only_fields = fields

    def get_tags(self, room) -> list[str]:
        return [t.name for t in room.tags.all()]

    def get_owner(self, room) -> str | None:
        return room.owner.display_name if room.owner else None

    def get_online(self, room) -> int | None:
        return self.context.get("online", {}).get(room.pk)

    def get_unread(self, room) -> int | None:
        return self.context.get("unread", {}).get(room.pk)


class RoomCreateSerializer(serializers.Serializer):
    name = text.TextSerializerField(kind=text.ROOM_NAME)
    description = text.TextSerializerField(kind=text.DESCRIPTION, required=False, allow_blank=True)
    image_url = text.TextSerializerField(kind=text.URL, required=False, allow_blank=True)
    image_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="An upload's id (POST /api/media/)."
    )
    tags = serializers.ListField(
        child=text.TextSerializerField(kind=text.TAG), max_length=MAX_TAGS, required=False
    )


class RoomLikeSerializer(serializers.Serializer):
    room_id = serializers.IntegerField()
    like_count = serializers.IntegerField()


class ReplySerializer(serializers.Serializer):
    event_id = serializers.UUIDField()
    sender = serializers.DictField(help_text='{"nickname"}')
    excerpt = serializers.CharField(help_text="The start of the original's body now.")
    deleted = serializers.BooleanField()


class ReactionSerializer(serializers.Serializer):
    emoji = serializers.CharField()
    count = serializers.IntegerField()
    me = serializers.BooleanField(help_text="Whether the requesting member reacted so.")


class MessageSerializer(serializers.Serializer):
    """A stored message as it is now: the socket's ``chat.message`` frame plus ``reactions``."""

    type = serializers.CharField()
    event_id = serializers.UUIDField()
    room_id = serializers.IntegerField()
    seq = serializers.IntegerField()
    kind = serializers.CharField()
    sender = serializers.DictField()
    body = serializers.CharField()
    gif_url = serializers.CharField(allow_null=True)
    gif = UploadSerializer(
        allow_null=True, help_text="An uploaded GIF (sent with gif_id): its size and thumbnail."
    )
    client_msg_id = serializers.CharField()
    sent_at = serializers.CharField()
    reply_to = ReplySerializer(allow_null=True)
    edited_at = serializers.CharField(allow_null=True)
    deleted = serializers.BooleanField(help_text="A tombstone: body and gif_url are empty.")
    deleted_by = serializers.ChoiceField(choices=["author", "staff", "owner"], allow_null=True)
    reactions = ReactionSerializer(many=True)


class RoomGifsSerializer(serializers.Serializer):
    results = UploadSerializer(many=True)


class MessagePageSerializer(serializers.Serializer):
    results = MessageSerializer(many=True)
    last_seq = serializers.IntegerField(help_text="The room's newest seq when this page was read.")


class MessageQuerySerializer(serializers.Serializer):
    before_seq = serializers.IntegerField(min_value=1, required=False)
    after_seq = serializers.IntegerField(min_value=0, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False, default=50)


class ReadMarkerSerializer(serializers.Serializer):
    seq = serializers.IntegerField(min_value=0, max_value=2**63 - 1)


class ReadMarkerResultSerializer(serializers.Serializer):
    room_id = serializers.IntegerField()
    last_read_seq = serializers.IntegerField()


class PresenceMemberSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    nickname = serializers.CharField()
    profile_path = serializers.CharField()


class PresenceSerializer(serializers.Serializer):
    members = PresenceMemberSerializer(many=True, help_text="Members with a live socket.")
    anonymous = serializers.IntegerField(help_text="Open sockets of readers not logged in.")


class ModerationRequestSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=["mute", "unmute", "kick", "ban", "unban", "slow_mode", "appoint", "dismiss"]
    )
    user_id = serializers.IntegerField(required=False, help_text="Whom (all but slow_mode).")
    duration = serializers.IntegerField(required=False, help_text="mute: seconds (≤ 30 days).")
    reason = serializers.CharField(required=False, help_text="ban: shown to the member.")
    seconds = serializers.IntegerField(required=False, help_text="slow_mode: 0 (off) to 600.")
    client_msg_id = serializers.CharField(required=False, help_text="Makes a retry idempotent.")


class ActionAcceptedSerializer(serializers.Serializer):
    action_id = serializers.UUIDField()


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    nickname = serializers.CharField()


class RosterSerializer(serializers.Serializer):
    owner = PersonSerializer(allow_null=True)
    moderators = PersonSerializer(many=True)
    slow_mode_seconds = serializers.IntegerField()
    my_role = serializers.ChoiceField(choices=["owner", "moderator", "staff"], allow_null=True)
    muted = serializers.ListField(child=serializers.DictField(), required=False)
    banned = serializers.ListField(child=serializers.DictField(), required=False)


class ReportSerializer(serializers.Serializer):
    reason = text.TextSerializerField(kind=text.REASON)
