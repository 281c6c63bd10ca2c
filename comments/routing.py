from django.urls import path

from zzalu import converters  # noqa: F401  (registers <id:…>)

from .consumers import HakwonConsumer

websocket_urlpatterns = [
    path("ws/hakwons/<id:hakwon_id>/", HakwonConsumer.as_asgi()),
]
