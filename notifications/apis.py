from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from redis import RedisError
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from zzalu.api import WriteThrottle

from . import events, selectors, services
from .serializers import MarkReadSerializer, NotificationPageSerializer, UnreadSerializer


class InboxPagination(CursorPagination):
    ordering = ("-updated_at", "-id")
    page_size = 20

    def paginate_queryset(self, queryset, request, view=None):
        # A cursor that decodes but holds no time (made by hand) fails in the query: a 404
        # like any other invalid cursor, not a 500.
        try:
            return list(super().paginate_queryset(queryset, request, view) or [])
        except (DjangoValidationError, ValueError, OverflowError) as exc:
            raise NotFound(self.invalid_cursor_message) from exc


class NotificationListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=NotificationPageSerializer)
    def get(self, request):
        """Your notifications, the most recently changed first (cursor pages), with how many
        are unread."""
        paginator = InboxPagination()
        page = paginator.paginate_queryset(selectors.notification_inbox(user=request.user), request)
        return Response(
            {
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "results": [events.notification_data(n) for n in page],
                "unread": selectors.notification_unread_count(user=request.user),
            }
        )


class NotificationReadApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [WriteThrottle]

    @extend_schema(request=MarkReadSerializer, responses=UnreadSerializer)
    def post(self, request):
        """Mark notifications read: ``{"ids": [...]}`` or ``{"all": true}``; your other open
        pages hear of it."""
        data = MarkReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = None if data.validated_data.get("all") else data.validated_data["ids"]
        unread = services.notifications_mark_read(user=request.user, ids=ids)
        tell_other_pages(request.user.pk, events.read_frame(ids=ids, unread=unread))
        return Response({"unread": unread})


def tell_other_pages(user_id: int, frame: dict) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(
            events.user_group(user_id), events.group_message(frame)
        )
    except RedisError:
        pass  # their sockets re-read the count at their next heartbeat
