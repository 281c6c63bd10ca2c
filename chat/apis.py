from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from redis import RedisError
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from zzalu.api import AnonReadThrottle, WriteThrottle, query_params

from . import moderation, selectors, services
from .models import ChatRoom
from .presence import room_presence
from .serializers import (
    ActionAcceptedSerializer,
    MessagePageSerializer,
    MessageQuerySerializer,
    ModerationRequestSerializer,
    PresenceSerializer,
    ReadMarkerResultSerializer,
    ReadMarkerSerializer,
    ReportSerializer,
    RoomCreateSerializer,
    RoomGifsSerializer,
    RoomLikeSerializer,
    RoomSerializer,
    RosterSerializer,
)


class RoomListApi(generics.ListCreateAPIView):
    serializer_class = RoomSerializer
    throttle_classes = [AnonReadThrottle, WriteThrottle]

    def get_queryset(self):
        mine = self.request.query_params.get("mine") in ("1", "true")
        if mine and not self.request.user.is_authenticated:
            self.permission_denied(self.request)
        return selectors.room_list(
            search=self.request.query_params.get("search", ""),
            ordering=self.request.query_params.get("ordering", "recent"),
            member=self.request.user if mine else None,
        )

    def get_serializer_context(self):
        return {
            **super().get_serializer_context(),
            "online": getattr(self, "_online", {}),
            "unread": getattr(self, "_unread", {}),
        }

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        room_ids = [room.pk for room in page or []]
        self._online = selectors.room_online_counts(room_ids=room_ids)
        self._unread = selectors.room_unread_counts(user=self.request.user, room_ids=room_ids)
        return page

    @extend_schema(
        parameters=[
            OpenApiParameter("search", str, description="Part of a room name, or a tag."),
            OpenApiParameter("ordering", str, enum=["recent", "likes"]),
            OpenApiParameter("mine", bool, description="Only rooms you joined (members)."),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=RoomCreateSerializer, responses={201: RoomSerializer})
    def post(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            self.permission_denied(request)
        data = RoomCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        room = services.room_create(owner=request.user, **data.validated_data)
        body = RoomSerializer(selectors.room_get(room_id=room.pk), context={"online": {room.pk: 0}})
        return Response(body.data, status=status.HTTP_201_CREATED)


class RoomDetailApi(APIView):
    @extend_schema(responses=RoomSerializer)
    def get(self, request, room_id: int):
        room = selectors.room_get(room_id=room_id)
        if room is None:
            return Response({"detail": "No such room."}, status=status.HTTP_404_NOT_FOUND)
        online = selectors.room_online_counts(room_ids=[room.pk])
        unread = selectors.room_unread_counts(user=request.user, room_ids=[room.pk])
        return Response(RoomSerializer(room, context={"online": online, "unread": unread}).data)


class RoomLikeApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [AnonReadThrottle, WriteThrottle]

    @extend_schema(request=None, responses={201: RoomLikeSerializer, 409: OpenApiTypes.OBJECT})
    def post(self, request, room_id: int):
        room = get_object_or_404(ChatRoom, pk=room_id)
        count = services.room_like(room=room, user=request.user)
        return Response({"room_id": room.pk, "like_count": count}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None, 404: OpenApiTypes.OBJECT})
    def delete(self, request, room_id: int):
        room = get_object_or_404(ChatRoom, pk=room_id)
        services.room_unlike(room=room, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoomMessagesApi(APIView):
    @extend_schema(parameters=[MessageQuerySerializer], responses=MessagePageSerializer)
    def get(self, request, room_id: int):
        last_seq = selectors.room_last_seq(room_id=room_id)
        if last_seq is None:
            return Response({"detail": "No such room."}, status=status.HTTP_404_NOT_FOUND)
        params = query_params(MessageQuerySerializer, request)
        messages = selectors.message_history(room_id=room_id, **params)
        frames = selectors.history_frames(messages=messages, user=request.user)
        return Response({"results": frames, "last_seq": last_seq})


class RoomReadApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [AnonReadThrottle, WriteThrottle]

    @extend_schema(request=ReadMarkerSerializer, responses=ReadMarkerResultSerializer)
    def post(self, request, room_id: int):
        """Mark the room read up to ``seq`` (joining it first); the marker never moves back."""
        data = ReadMarkerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        room = get_object_or_404(ChatRoom, pk=room_id)
        services.room_join(room_id=room.pk, user=request.user)
        services.read_marker_advance(
            room_id=room.pk, user_id=request.user.pk, seq=data.validated_data["seq"]
        )
        marker = selectors.member_last_read_seq(user=request.user, room_id=room.pk)
        return Response({"room_id": room.pk, "last_read_seq": marker})


class RoomPresenceApi(APIView):
    throttle_classes = [AnonReadThrottle]

    @extend_schema(responses={200: PresenceSerializer, 503: OpenApiTypes.OBJECT})
    def get(self, request, room_id: int):
        """Who is online in the room now: members by name, anonymous readers as a count."""
        get_object_or_404(ChatRoom, pk=room_id)
        try:
            presence = room_presence(room_id)
        except RedisError:
            return Response(
                {"detail": "Presence is unavailable right now.", "code": "unavailable"},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response(presence)


class RoomGifsApi(APIView):
    throttle_classes = [AnonReadThrottle]

    @extend_schema(responses=RoomGifsSerializer)
    def get(self, request, room_id: int):
        """The uploaded GIFs sent in the room lately, newest first (the GIF picker's list)."""
        get_object_or_404(ChatRoom, pk=room_id)
        gifs = selectors.room_recent_gifs(room_id=room_id)
        return Response({"results": [gif.as_dict() for gif in gifs]})


class RoomModerationApi(APIView):
    throttle_classes = [AnonReadThrottle, WriteThrottle]

    @extend_schema(responses=RosterSerializer)
    def get(self, request, room_id: int):
        """The room's owner, moderators and slow mode; muted and banned members for those who
        may act (``my_role``: owner, moderator, staff or null)."""
        room = get_object_or_404(ChatRoom.objects.select_related("owner"), pk=room_id)
        return Response(selectors.room_roster(room=room, viewer=request.user))

    @extend_schema(request=ModerationRequestSerializer, responses={202: ActionAcceptedSerializer})
    def post(self, request, room_id: int):
        """Mute (``user_id``, ``duration`` s), unmute, kick, ban (``reason``), unban
        (``user_id``), slow mode (``seconds``, 0 = off), appoint or dismiss a moderator
        (owner only). Accepted once Kafka has it; the room sees it with its seq."""
        if not request.user.is_authenticated:
            self.permission_denied(request)
        get_object_or_404(ChatRoom, pk=room_id)
        payload = request.data if isinstance(request.data, dict) else {}
        action_id = moderation.moderation_act(room_id=room_id, actor=request.user, payload=payload)
        return Response({"action_id": action_id}, status=status.HTTP_202_ACCEPTED)


class MessageReportApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [AnonReadThrottle, WriteThrottle]

    @extend_schema(request=ReportSerializer, responses={201: None, 409: OpenApiTypes.OBJECT})
    def post(self, request, room_id: int, event_id):
        """Report a message to the room's moderators and staff, once."""
        data = ReportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        moderation.report_create(
            room_id=room_id, event_id=str(event_id), reporter=request.user,
            reason=data.validated_data["reason"],
        )  # fmt: skip
        return Response(status=status.HTTP_201_CREATED)
