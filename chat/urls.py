from django.urls import path

from zzalu import converters  # noqa: F401  (registers <id:…>)

from . import apis

urlpatterns = [
    path("rooms/", apis.RoomListApi.as_view(), name="api-rooms"),
    path("rooms/<id:room_id>/", apis.RoomDetailApi.as_view(), name="api-room"),
    path("rooms/<id:room_id>/like/", apis.RoomLikeApi.as_view(), name="api-room-like"),
    path("rooms/<id:room_id>/messages/", apis.RoomMessagesApi.as_view(), name="api-room-messages"),
    path("rooms/<id:room_id>/read/", apis.RoomReadApi.as_view(), name="api-room-read"),
    path("rooms/<id:room_id>/presence/", apis.RoomPresenceApi.as_view(), name="api-room-presence"),
    path("rooms/<id:room_id>/gifs/", apis.RoomGifsApi.as_view(), name="api-room-gifs"),
    path(
        "rooms/<id:room_id>/moderation/",
        apis.RoomModerationApi.as_view(),
        name="api-room-moderation",
    ),
    path(
        "rooms/<id:room_id>/messages/<uuid:event_id>/report/",
        apis.MessageReportApi.as_view(),
        name="api-message-report",
    ),
]
