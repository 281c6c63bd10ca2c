from rest_framework import serializers


class UploadRequestSerializer(serializers.Serializer):
    file = serializers.FileField(
        # An empty file is refused like any other non-image: unsupported_media.
        allow_empty_file=True,
        help_text="A GIF, PNG, JPEG or WebP image (recognised by its content).",
    )


class UploadSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField(help_text="Where the clean copy is served.")
    thumb_url = serializers.CharField(help_text="A still thumbnail (first frame, WebP).")
    content_type = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    frames = serializers.IntegerField()
    bytes = serializers.IntegerField()


class UploadListSerializer(serializers.Serializer):
    results = UploadSerializer(many=True)
