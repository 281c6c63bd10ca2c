from django.urls import path

from . import apis

urlpatterns = [
    path("rooms/", apis.RoomListApi.as_view(), name="api-rooms"),
    path("rooms/<int:room_id>/", apis.RoomDetailApi.as_view(), name="api-room"),
    path("rooms/<int:room_id>/like/", apis.RoomLikeApi.as_view(), name="api-room-like"),
    path("rooms/<int:room_id>/messages/", apis.RoomMessagesApi.as_view(), name="api-room-messages"),
    path("rooms/<int:room_id>/read/", apis.RoomReadApi.as_view(), name="api-room-read"),
    path("rooms/<int:room_id>/presence/", apis.RoomPresenceApi.as_view(), name="api-room-presence"),
    path("rooms/<int:room_id>/gifs/", apis.RoomGifsApi.as_view(), name="api-room-gifs"),
    path(
        "rooms/<int:room_id>/moderation/",
        apis.RoomModerationApi.as_view(),
        name="api-room-moderation",
    ),
    path(
        "rooms/<int:room_id>/messages/<uuid:event_id>/report/",
        apis.MessageReportApi.as_view(),
        name="api-message-report",
    ),
]
