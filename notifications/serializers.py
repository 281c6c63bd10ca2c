from rest_framework import serializers


class ActorSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    nickname = serializers.CharField()


class NotificationSerializer(serializers.Serializer):
    """A notification as the API and the ``notification.created`` frame show it."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(
        choices=["mention", "reply", "comment_reply", "comment_likes", "award"]
    )
    actor = ActorSerializer(allow_null=True)
    text = serializers.CharField(help_text="An excerpt of what was said.")
    url = serializers.CharField(help_text="Where it happened: a path on this site.")
    count = serializers.IntegerField(help_text="comment_likes: how many like the caption.")
    created_at = serializers.CharField()
    updated_at = serializers.CharField()
    read = serializers.BooleanField()


class NotificationPageSerializer(serializers.Serializer):
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = NotificationSerializer(many=True)
    unread = serializers.IntegerField()


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        max_length=500,
        required=False,
    )
    all = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if bool(attrs.get("ids")) == bool(attrs.get("all")):
            raise serializers.ValidationError(
                'Send either "ids" (a non-empty list) or "all": true.'
            )
        return attrs


class UnreadSerializer(serializers.Serializer):
    unread = serializers.IntegerField()
