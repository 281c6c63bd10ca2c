"""API shapes. Comments are rendered by ``events.comment_data`` so the API and the socket agree;
the serializers below describe that shape for the OpenAPI schema and validate input."""

from rest_framework import serializers

from accounts.serializers import MemberSerializer
from uploads.serializers import UploadSerializer
from zzalu import text

from . import events
from .models import TitleHakwon


class HakwonSerializer(serializers.ModelSerializer):
    comment_count = serializers.IntegerField(read_only=True, help_text="Comments and replies.")
    image_url = serializers.CharField(
        source="image_src", help_text="The image shown: the upload, an http(s) URL or the default."
    )
    image = UploadSerializer(source="image.as_dict", allow_null=True, default=None)

    class Meta:
        model = TitleHakwon
        fields = ("id", "image_url", "image", "open_date", "state", "comment_count")
        read_only_fields = fields


class AuthorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    nickname = serializers.CharField()
    profile_path = serializers.CharField(allow_blank=True)


class CommentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    hakwon_id = serializers.IntegerField()
    parent_id = serializers.IntegerField(allow_null=True)
    author = AuthorSerializer()
    content = serializers.CharField(allow_blank=True, help_text="Empty once deleted.")
    is_edited = serializers.BooleanField()
    is_deleted = serializers.BooleanField()
    like_count = serializers.IntegerField()
    reply_count = serializers.IntegerField()
    created_at = serializers.CharField()
    updated_at = serializers.CharField()
    liked = serializers.BooleanField(help_text="Whether the requesting member likes it.")

    def to_representation(self, comment):
        return {
            **events.comment_data(comment),
            "liked": comment.pk in self.context.get("liked", ()),
        }


class CommentWriteSerializer(serializers.Serializer):
    content = text.TextSerializerField(kind=text.COMMENT)


class LikeSerializer(serializers.Serializer):
    comment_id = serializers.IntegerField()
    like_count = serializers.IntegerField()


class AwardHakwonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    open_date = serializers.DateField()
    image_url = serializers.CharField()


class AwardSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    like_count = serializers.IntegerField()
    hakwon = AwardHakwonSerializer(source="*")
    comment_id = serializers.IntegerField()
    content = serializers.CharField()
    member = MemberSerializer(source="user")

    def to_representation(self, award):
        return {
            "rank": award.rank,
            "like_count": award.like_count,
            "hakwon": {
                "id": award.hakwon_id,
                "open_date": award.hakwon.open_date.isoformat(),
                "image_url": award.hakwon.image_src,
            },
            "comment_id": award.comment_id,
            "content": events.comment_text(award.comment),
            "member": MemberSerializer(award.user).data,
        }


class BestQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=50, default=3, required=False)


class HakwonQuerySerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=TitleHakwon.State.values, required=False)


class CommentQuerySerializer(serializers.Serializer):
    ordering = serializers.ChoiceField(
        choices=["latest", "oldest", "popular"], default="latest", required=False
    )
