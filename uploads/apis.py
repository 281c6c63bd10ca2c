from drf_spectacular.utils import extend_schema
from rest_framework import parsers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from zzalu.api import WriteThrottle

from . import selectors, services
from .serializers import UploadListSerializer, UploadRequestSerializer, UploadSerializer


class MediaApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [parsers.MultiPartParser]
    throttle_classes = [WriteThrottle]
    throttle_scope = "uploads"

    @extend_schema(
        request={"multipart/form-data": UploadRequestSerializer},
        responses={201: UploadSerializer},
        description="Upload an image. 400 `unsupported_media` (not a GIF, PNG, JPEG or WebP by "
        "its content; damaged; a polyglot) or `too_large` (bytes, pixels or frames).",
    )
    def post(self, request):
        services.upload_length_check(_content_length(request))  # before the body is parsed
        serializer = UploadRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = services.upload_create(owner=request.user, file=serializer.validated_data["file"])
        return Response(upload.as_dict(), status=status.HTTP_201_CREATED)

    @extend_schema(responses=UploadListSerializer, description="Your latest uploads.")
    def get(self, request):
        uploads = selectors.uploads_recent(owner=request.user)
        return Response({"results": [u.as_dict() for u in uploads]})


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
