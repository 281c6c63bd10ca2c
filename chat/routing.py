from django.urls import path

from zzalu import converters  # noqa: F401  (registers <id:…>)

from .consumers import ChatConsumer, RoomsWatchConsumer

websocket_urlpatterns = [
    path("ws/rooms/", RoomsWatchConsumer.as_asgi()),
    path("ws/rooms/<id:room_id>/", ChatConsumer.as_asgi()),
]
