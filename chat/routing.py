from django.urls import path

from zzalu import converters  # noqa: F401  (registers <id:…>)

from .consumers import ChatConsumer

websocket_urlpatterns = [
    path("ws/rooms/<id:room_id>/", ChatConsumer.as_asgi()),
]
