from django.urls import path

from .consumers import HakwonConsumer

websocket_urlpatterns = [
    path("ws/hakwons/<int:hakwon_id>/", HakwonConsumer.as_asgi()),
]
