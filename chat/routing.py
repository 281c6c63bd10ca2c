from django.conf import settings
from django.urls import path

from .consumers import ChatConsumer

websocket_urlpatterns = [
    path("ws/rooms/<int:room_id>/", ChatConsumer.as_asgi()),
]

if settings.BENCH_DIRECT_ROUTE:
    from bench.direct import DirectChatConsumer

    websocket_urlpatterns.append(path("ws/direct/<int:room_id>/", DirectChatConsumer.as_asgi()))
